"""DATABASE_URL → Django's DATABASES entry, with errors that name the variable and hide the password."""

from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

EMBEDDED_ENGINE = "devdb.backend"
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}


def database_from_url(url: str) -> dict:
    """The `default` database for this URL; the embedded server's when the URL is empty."""
    if not url:
        # Persistent connections: a new one per request cost the development server 7.5 ms a page.
        # Health checks: a connection to a server that `embedded_db stop` ended is replaced, not reused.
        return {"ENGINE": EMBEDDED_ENGINE, "NAME": "gova", "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True}
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"DATABASE_URL is malformed ({exc}); expected postgres://USER:PASSWORD@HOST:PORT/NAME"
        ) from None
    if parts.scheme not in POSTGRES_SCHEMES:
        shown = parts.scheme or "none"
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/NAME), got scheme '{shown}'"
        )
    if not parts.path.strip("/"):
        raise ImproperlyConfigured("DATABASE_URL names no database: expected postgres://USER:PASSWORD@HOST:PORT/NAME")
    config = environ.Env.db_url_config(url)
    # Reuse connections for a minute; migrations need a direct connection, not a transaction pooler.
    config.setdefault("CONN_MAX_AGE", 60)
    return config
