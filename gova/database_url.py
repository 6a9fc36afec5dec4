"""DATABASE_URL → Django's DATABASES entry, with errors that name the variable and hide the password.

Read the way libpq reads a connection URI (https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-URIS),
which django-environ does not quite: every part is percent-decoded (a Unix socket as the host
`%2Fvar%2Frun%2Fpostgresql`, reserved characters in the password), and the query's `host`, `port`,
`user`, `password` and `dbname` are those settings, not driver options; any other parameter
(`sslmode`, `sslrootcert`, `application_name`, ...) goes to libpq as it is.
"""

from urllib.parse import parse_qsl, quote, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

EMBEDDED_ENGINE = "devdb.backend"
POSTGRES_SCHEMES = {"postgres", "postgresql", "pgsql"}
EXPECTED = "expected postgres://USER:PASSWORD@HOST:PORT/NAME"
# Query parameters that are Django settings of their own; the rest are libpq options.
SETTING_PARAMETERS = {"host": "HOST", "port": "PORT", "user": "USER", "password": "PASSWORD", "dbname": "NAME"}


def database_from_url(url: str, *, password: str = "") -> dict:
    """The `default` database for this URL; the embedded server's when the URL is empty.

    `password` (DATABASE_PASSWORD) replaces the URL's: a password kept out of the URL needs no escaping.
    """
    if not url:
        # Persistent connections: a new one per request cost the development server 7.5 ms a page.
        # Health checks: a connection to a server that `embedded_db stop` ended is replaced, not reused.
        return {"ENGINE": EMBEDDED_ENGINE, "NAME": "gova", "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True}
    # The URL's text is never repeated in an error: a mistyped URL often splits the password somewhere.
    reserved = "percent-encode reserved characters in the password (# is %23, / is %2F, ? is %3F, @ is %40)"
    try:
        parts = urlsplit(url)
        if parts.fragment:
            raise ValueError("#")
        port = parts.port  # raises ValueError on a port that is not a number
    except ValueError:
        raise ImproperlyConfigured(
            f"DATABASE_URL is malformed (a port that is not a number, or a password with a raw reserved character: "
            f"{reserved}, or leave it out of the URL and set DATABASE_PASSWORD); {EXPECTED}"
        ) from None
    if parts.scheme not in POSTGRES_SCHEMES:
        shown = parts.scheme or "none"
        raise ImproperlyConfigured(f"DATABASE_URL must be a PostgreSQL URL ({EXPECTED}), got scheme '{shown}'")
    # Not parts.hostname: it lower-cases, and a socket folder's name keeps its case.
    host = parts.netloc.rpartition("@")[2]
    if port is not None:
        host = host.rsplit(":", 1)[0]
    config = {
        "ENGINE": "gova.backend",
        "NAME": unquote(parts.path[1:]),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": unquote(host),
        "PORT": str(port or ""),
        "OPTIONS": {},
    }
    if config["HOST"].startswith("[") and config["HOST"].endswith("]"):
        config["HOST"] = config["HOST"][1:-1]  # an IPv6 address
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
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
