FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Runtime packages only: the embedded development PostgreSQL (requirements-dev.txt) stays out of the image.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .

# collectstatic needs settings, not secrets: throwaway values for this build step only.
RUN DJANGO_SECRET_KEY=build-only FIELD_ENCRYPTION_SALT_KEYS=build-only DATABASE_URL=postgres://build@localhost/build \
    python manage.py collectstatic --noinput

# The code stays root-owned and read-only for the app; the one folder it writes is the backups volume.
# Migrations are written in a checkout (makemigrations), reviewed and built into the image, never in a container.
RUN useradd --system --uid 10001 --no-create-home gova \
    && mkdir -p /app/backups && chown gova:gova /app/backups
ENV GOVA_BACKUP_DIR=/app/backups
USER gova

EXPOSE 8000
# /healthz answers 200 once the app can query its database (gova/health.py); slim images have no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# Migrations run at start-up: concurrent containers are safe (migrate holds an advisory lock).
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn gova.wsgi:application --bind 0.0.0.0:8000 --workers 3 --access-logfile -"]
