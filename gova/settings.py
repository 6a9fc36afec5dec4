"""Settings for the gova data platform. Every deploy-specific value comes from the environment.

`.env` in the project folder is read for local convenience; real environment variables win.
`.env.example` lists every key.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from gova.database_url import database_from_url

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
env.read_env(BASE_DIR / ".env")

SECRET_KEY = env("DJANGO_SECRET_KEY")  # no default: a missing key fails at start-up
if not SECRET_KEY.strip():
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is empty: set it in the environment or .env (scripts/setup makes one)"
    )
# Old keys stay here during a rotation so sessions and encrypted fields made with them still open.
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# django-fernet-encrypted-fields derives its keys from SECRET_KEY (+ fallbacks) and these salts.
# The first salt encrypts; every salt decrypts, so a new salt goes first and the old ones stay
# until `manage.py reencrypt_fields` has rewritten every row.
SALT_KEY = env.list("FIELD_ENCRYPTION_SALT_KEYS")
if not all(SALT_KEY):
    raise ImproperlyConfigured("FIELD_ENCRYPTION_SALT_KEYS must list at least one non-empty salt")

INSTALLED_APPS = [
    "dbops",  # first: its pre_migrate check stops a migrate on a server without pgvector
    "devdb",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "accounts",
    "moderation",
]

MIDDLEWARE = [
    "gova.health.HealthCheckMiddleware",  # first: /healthz answers before host checks and redirects
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gova.urls"
WSGI_APPLICATION = "gova.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# With no DATABASE_URL the project runs on the embedded PostgreSQL (devdb) kept in GOVA_PGDATA.
DATABASES = {
    "default": database_from_url(env.str("DATABASE_URL", default=""), password=env.str("DATABASE_PASSWORD", default=""))
}
GOVA_PGDATA = Path(env.str("GOVA_PGDATA", default="") or BASE_DIR / ".pgdata")
# Another pgserver build's binaries, e.g. PostgreSQL 16 for the compatibility run.
GOVA_PG_BIN = env.str("GOVA_PG_BIN", default="") or None
# Set by the test plugin: a throwaway server with fsync off.
GOVA_PG_EPHEMERAL = env.bool("GOVA_PG_EPHEMERAL", default=False)

# How migrate and rollback treat a live database (dbops.locking, dbops.migration_guard).
# Wait this long (seconds) for another process's migrate to finish before giving up.
GOVA_MIGRATE_LOCK_WAIT = env.float("GOVA_MIGRATE_LOCK_WAIT", default=600)
# A migration waiting longer than this for a table lock fails instead of stalling traffic behind it.
GOVA_MIGRATION_LOCK_TIMEOUT = env.str("GOVA_MIGRATION_LOCK_TIMEOUT", default="5s")
# Index builds: HNSW over 200k x 384 vectors took 155 s at 64MB and 35 s at 1GB with 2 workers.
GOVA_MIGRATION_MAINTENANCE_WORK_MEM = env.str("GOVA_MIGRATION_MAINTENANCE_WORK_MEM", default="1GB")
GOVA_MIGRATION_MAINTENANCE_WORKERS = env.int("GOVA_MIGRATION_MAINTENANCE_WORKERS", default=2)
# Where backup_events writes and the data-loss guard looks for backups.
GOVA_BACKUP_DIR = Path(env.str("GOVA_BACKUP_DIR", default="") or BASE_DIR / "backups")

AUTH_USER_MODEL = "accounts.User"

# Argon2 first: the old service's hashes are argon2id, and new ones should be too.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO")
# Configured once: every record reaches the root logger's one handler. Django's own defaults
# (django.utils.log.DEFAULT_LOGGING) are applied first and give the `django` logger a console
# handler of its own, which printed each line twice under runserver: replaced here by none.
# `django.server` (runserver's request lines) keeps its own handler and does not propagate.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "{levelname} {name}: {message}", "style": "{"},
        "one_line": {"()": "gova.log_format.OneLineFormatter", "format": "{levelname} {name}: {message}", "style": "{"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "console_one_line": {"class": "logging.StreamHandler", "formatter": "one_line"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        # A request with a Host header not in ALLOWED_HOSTS (scanners, mostly): one line, no traceback.
        "django.security.DisallowedHost": {"handlers": ["console_one_line"], "propagate": False},
    },
}
