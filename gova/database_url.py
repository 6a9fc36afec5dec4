"""DATABASE_URL → Django's DATABASES entry, with errors that name the variable and hide the password.

libpq itself parses the URL (psycopg's `conninfo_to_dict` calls `PQconninfoParse`), so it means here exactly
what it means to psql and every libpq client: percent-decoded parts (a Unix socket as the host
`%2Fvar%2Frun%2Fpostgresql`, reserved characters in the password), `?host=`, `?port=` and the other query
parameters, several hosts (`h1:5432,h2:5433`), and the keyword form (`host=... dbname=...`).
https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING
"""

import re
from urllib.parse import quote

import psycopg
from django.core.exceptions import ImproperlyConfigured
from psycopg.conninfo import conninfo_to_dict

EMBEDDED_ENGINE = "devdb.backend"
# libpq's two schemes, and django-environ's alias for them.
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}
EXPECTED = "expected postgres://USER:PASSWORD@HOST:PORT/NAME"
# libpq parameters that are Django settings of their own; the rest are libpq options.
SETTING_PARAMETERS = {"host": "HOST", "port": "PORT", "user": "USER", "password": "PASSWORD", "dbname": "NAME"}


def database_from_url(url: str, *, password: str = "") -> dict:
    """The `default` database for this URL; the embedded server's when the URL is empty.

    `password` (DATABASE_PASSWORD) replaces the URL's: a password kept out of the URL needs no escaping.
    """
    if not url:
        # Persistent connections: a new one per request cost the development server 7.5 ms a page.
        # Health checks: a connection to a server that `embedded_db stop` ended is replaced, not reused.
        return {"ENGINE": EMBEDDED_ENGINE, "NAME": "gova", "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True}
    scheme, separator, rest = url.partition("://")
    if separator:
        if scheme not in POSTGRES_SCHEMES:
            raise ImproperlyConfigured(f"DATABASE_URL must be a PostgreSQL URL ({EXPECTED}), got scheme '{scheme}'")
        url = f"postgresql://{rest}"
    try:
        parameters = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is malformed ({_without_values(str(exc))}); {EXPECTED}") from None
    ports = parameters.get("port", "")
    if not all(port.isdigit() for port in ports.split(",") if port):
        # libpq refuses it only when connecting. Often a raw / in the password: u:se/cret@h is host u, port se.
        raise ImproperlyConfigured(
            "DATABASE_URL is malformed (a port that is not a number, or a password with a raw reserved character: "
            "percent-encode it (/ is %2F, @ is %40, : is %3A), or leave it out of the URL and set DATABASE_PASSWORD); "
            f"{EXPECTED}"
        )
    config = {"ENGINE": "gova.backend", "NAME": "", "USER": "", "PASSWORD": "", "HOST": "", "PORT": "", "OPTIONS": {}}
    for name, value in parameters.items():
        if name in SETTING_PARAMETERS:
            config[SETTING_PARAMETERS[name]] = value
        else:
            config["OPTIONS"][name] = value
    if password:
        config["PASSWORD"] = password
    if not config["NAME"]:
        raise ImproperlyConfigured(f"DATABASE_URL names no database: {EXPECTED}")
    # Reuse connections for a minute; migrations need a direct connection, not a transaction pooler.
    config["CONN_MAX_AGE"] = 60
    return config


def _without_values(libpq_message: str) -> str:
    """libpq's reason with the text it quotes left out (it may be part of the password); a parameter's name stays."""
    reason = libpq_message.strip().splitlines()[0] if libpq_message.strip() else "unreadable"
    if reason.startswith("invalid URI query parameter"):
        return reason
    return re.sub(r'"[^"]*"', "...", reason)


def prepare_threshold(value: str) -> int | None:
    """GOVA_DB_PREPARE_THRESHOLD: a count of runs before psycopg prepares a statement, or "off"."""
    if value.strip().lower() in {"off", "none", ""}:
        return None
    try:
        threshold = int(value)
    except ValueError:
        threshold = -1
    if threshold < 0:
        raise ImproperlyConfigured(f"GOVA_DB_PREPARE_THRESHOLD must be a whole number >= 0 or 'off', not {value!r}")
    return threshold


def url_for(*, user: str, password: str | None, host: str, port, name: str) -> str:
    """A DATABASE_URL for these connection settings, user and password percent-encoded (`@ / # ?` survive)."""
    credentials = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return f"postgres://{credentials}@{host}:{port}/{quote(name, safe='')}"


def connection_failure(exc: Exception, alias: str = "default") -> str | None:
    """One line for an OperationalError raised while connecting to `alias`; None for any other database error.

    libpq's messages name the host and port, never the password.
    """
    from django.db import connections

    connection = connections[alias]
    if connection.connection is not None:
        return None  # connected: a failure in a query, which the caller's traceback explains better
    settings_dict = connection.settings_dict
    where = settings_dict.get("HOST") or "localhost"
    if settings_dict.get("PORT"):
        where = f"{where}:{settings_dict['PORT']}"
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    # 'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused'
    reason = lines[0].rsplit(" failed: ", 1)[-1] if lines else type(exc).__name__
    return (
        f"cannot connect to the database at {where} ({reason}): check DATABASE_URL and that the server is running "
        "and accepts connections"
    )
