FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .

# collectstatic needs settings, not secrets: throwaway values for this build step only.
RUN DJANGO_SECRET_KEY=build-only FIELD_ENCRYPTION_SALT_KEYS=build-only DATABASE_URL=postgres://build@localhost/build \
    python manage.py collectstatic --noinput

RUN useradd --system --uid 10001 gova
USER gova

EXPOSE 8000
# Migrations run at start-up: concurrent containers are safe (migrate holds an advisory lock).
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn gova.wsgi:application --bind 0.0.0.0:8000 --workers 3 --access-logfile -"]
