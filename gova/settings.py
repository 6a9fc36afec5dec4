"""Settings for the gova data platform. Every deploy-specific value comes from the environment.

`.env` in the project folder is read for local convenience; real environment variables win.
`.env.example` lists every key.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from gova.database_url import database_from_url, prepare_threshold

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

# HTTPS in production (docs/production.md; `check --deploy` is clean with them).
# One switch for what is all or nothing behind TLS: redirect plain HTTP, cookies only over HTTPS.
HTTPS = env.bool("DJANGO_HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
# Browsers remember HSTS for this long: raise it once HTTPS works (31536000 = one year).
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
# Behind a proxy that ends TLS: "HTTP_X_FORWARDED_PROTO,https" (the header the proxy sets, and its value).
# Only when the proxy overwrites that header: a client could send it otherwise.
SECURE_PROXY_SSL_HEADER = tuple(env.list("DJANGO_SECURE_PROXY_SSL_HEADER", default=[])) or None
if SECURE_PROXY_SSL_HEADER is not None and len(SECURE_PROXY_SSL_HEADER) != 2:
    raise ImproperlyConfigured("DJANGO_SECURE_PROXY_SSL_HEADER must be HEADER,VALUE, e.g. HTTP_X_FORWARDED_PROTO,https")

# django-fernet-encrypted-fields derives its keys from SECRET_KEY (+ fallbacks) and these salts.
# The first salt encrypts; every salt decrypts, so a new salt goes first and the old ones stay
# until `manage.py reencrypt_fields` has rewritten every row.
SALT_KEY = env.list("FIELD_ENCRYPTION_SALT_KEYS")
# env.list drops empty items: "" and "," both give [], which would start and then fail every read.
if not SALT_KEY or not all(salt.strip() for salt in SALT_KEY):
    raise ImproperlyConfigured("FIELD_ENCRYPTION_SALT_KEYS must list at least one non-empty salt")

# Sharing the database with the old (Alembic) service (docs/switching-from-alembic.md). true: passwords and OAuth
# payloads are written in its formats (the bare argon2id PHC string, the AES-GCM envelope), so it reads everything
# written here. Both formats are read whatever the value, so turning it off later needs no downtime.
_legacy_formats = env.str("GOVA_LEGACY_FORMATS", default="").strip().lower()
if _legacy_formats not in {"", "true", "false", "1", "0", "yes", "no", "on", "off"}:
    # Strict: a typo read as false would write formats the old service cannot read.
    raise ImproperlyConfigured(f"GOVA_LEGACY_FORMATS must be true or false, not {_legacy_formats!r}")
GOVA_LEGACY_FORMATS = _legacy_formats in {"true", "1", "yes", "on"}
# The old service's ENCRYPTION_KEY: opens its OAuth payloads, and seals them with GOVA_LEGACY_FORMATS=true.
# AES key lengths only; the error gives the length, never the value.
GOVA_LEGACY_ENCRYPTION_KEY = env.str("GOVA_LEGACY_ENCRYPTION_KEY", default="")
if GOVA_LEGACY_ENCRYPTION_KEY and len(GOVA_LEGACY_ENCRYPTION_KEY.encode()) not in (16, 24, 32):
    raise ImproperlyConfigured(
        "GOVA_LEGACY_ENCRYPTION_KEY must be the old service's ENCRYPTION_KEY, 16, 24 or 32 bytes long; "
        f"it is {len(GOVA_LEGACY_ENCRYPTION_KEY.encode())} bytes"
    )
if GOVA_LEGACY_FORMATS and not GOVA_LEGACY_ENCRYPTION_KEY:
    raise ImproperlyConfigured(
        "GOVA_LEGACY_FORMATS=true needs GOVA_LEGACY_ENCRYPTION_KEY (the old service's ENCRYPTION_KEY) to write "
        "OAuth payloads the old service reads"
    )

INSTALLED_APPS = [
    # First: its pre_migrate check refuses the old service's database before any other check reads it.
    "takeover",
    "dbops",  # its pre_migrate check stops a migrate on a server without pgvector
    "devdb",
    "gova.secret_admin.SecretSafeAdminConfig",  # django.contrib.admin whose every ModelAdmin keeps secrets out
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "axes",  # admin login throttling, see AXES_* below
    "accounts",
    "moderation",
]

MIDDLEWARE = [
    "gova.health.HealthCheckMiddleware",  # first: /healthz answers before host checks and redirects
    "django.middleware.security.SecurityMiddleware",
    "gova.middleware.RejectNulCharacters",  # before anything reads parameters into a query
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires: answers locked-out logins
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
# Prepared statements for the project's own server-binding psycopg cursors (batch ingest, single record, similar
# content, the benchmarks): the ORM's cursors bind on the client and never prepare. Django passes psycopg None (off)
# by default; psycopg's own default is 5 (prepare a statement on its 5th run, or at once when asked). Planning
# the batch INSERT costs 1-3 ms a batch. "off" behind a transaction-mode pooler without prepared statements.
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = prepare_threshold(
    env.str("GOVA_DB_PREPARE_THRESHOLD", default="5")
)
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
# A backup lets a migration drop event data only if it is younger than this (and of the current schema).
GOVA_BACKUP_MAX_AGE_HOURS = env.float("GOVA_BACKUP_MAX_AGE_HOURS", default=24)

AUTH_USER_MODEL = "accounts.User"

# django-axes first: it refuses a locked-out login before any password is hashed.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # The old service logged users in by email; the admin by username: both work (accounts/backends.py).
    "accounts.backends.UsernameOrEmailBackend",
]
# Admin login throttling (docs/admin.md "Admin login"). A username is locked after GOVA_LOGIN_FAILURE_LIMIT
# failures from anywhere, and so is an IP address whatever usernames it tried. Each failure costs
# ~250 ms of Argon2: unthrottled, 40 guesses took 10 s. Unlock: manage.py axes_reset_username NAME,
# axes_reset_ip ADDRESS, or axes_reset for everything.
AXES_FAILURE_LIMIT = env.int("GOVA_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("GOVA_LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
# Off: a banner on every manage.py command. Failures and lock-outs are still logged (warnings).
AXES_VERBOSE = False
# Behind a proxy every request comes from the proxy's address: name the header it sets to the
# client's (HTTP_X_REAL_IP), or one attacker locks every admin out by address.
GOVA_CLIENT_IP_HEADER = env.str("GOVA_CLIENT_IP_HEADER", default="")
AXES_CLIENT_IP_CALLABLE = "gova.middleware.client_ip"

# Argon2id with the old service's parameters first: legacy hashes verify without a rehash, and every new
# hash is one the old service can verify after `adopt_alembic_db --revert` (accounts/hashers.py).
PASSWORD_HASHERS = [
    "accounts.hashers.LegacyParametersArgon2PasswordHasher",
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

# dictConfig, then every log record has the row PostgreSQL quotes in constraint errors redacted
# (it carries password hashes and jwts): gova.redaction.
LOGGING_CONFIG = "gova.redaction.configure_logging"

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
