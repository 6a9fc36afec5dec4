"""Run by scripts/setup before it writes a .env with fresh keys: refuse when the database this
checkout uses already holds encrypted payloads, which fresh keys could never open again.

Runs without Django settings (there are none without .env): DATABASE_URL from the environment, or
the embedded server in GOVA_PGDATA (.pgdata), started if it has a cluster.
`python -m devdb.keys_guard` exits 1 with the way out, 0 otherwise.
"""

import os
import sys
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from devdb.server import EmbeddedPostgres, EmbeddedPostgresError

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Table -> encrypted columns (EncryptedJSONField); tests/security/test_setup_keeps_keys.py keeps it
# equal to the models' list.
ENCRYPTED_COLUMNS = {"users": ["discord_oauth_payload"]}
EMBEDDED_DATABASE = "gova"  # gova.database_url


def encrypted_rows(conninfo: str) -> int:
    """Rows holding an encrypted value; 0 when the database or its tables do not exist yet."""
    try:
        connection = psycopg.connect(conninfo, connect_timeout=10)
    except psycopg.OperationalError as exc:
        if "does not exist" in str(exc):
            return 0
        raise
    with connection:
        total = 0
        for table, columns in ENCRYPTED_COLUMNS.items():
            if connection.execute("SELECT to_regclass(%s)", [table]).fetchone()[0] is None:
                continue
            condition = sql.SQL(" OR ").join(sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in columns)
            query = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(sql.Identifier(table), condition)
            total += connection.execute(query).fetchone()[0]
        return total


def main() -> int:
    if os.environ.get("DJANGO_SECRET_KEY") and os.environ.get("FIELD_ENCRYPTION_SALT_KEYS"):
        return 0  # the keys come from the environment, not from .env: nothing is lost
    database_url = os.environ.get("DATABASE_URL", "")
    if database_url:
        where, conninfo = "DATABASE_URL", database_url
    else:
        pgdata = Path(os.environ.get("GOVA_PGDATA") or PROJECT_DIR / ".pgdata")
        server = EmbeddedPostgres(pgdata, os.environ.get("GOVA_PG_BIN") or None)
        if not (server.cluster / "PG_VERSION").exists():
            return 0  # no database yet
        where = f"the embedded database in {pgdata}"
        try:
            info = server.ensure_running()
        except EmbeddedPostgresError as exc:
            print(f"error: .env is missing and {where} could not be checked for encrypted data: {exc}", file=sys.stderr)
            return 1
        conninfo = make_conninfo(
            host=info.host, port=info.port, user=info.user, password=info.password, dbname=EMBEDDED_DATABASE
        )
    try:
        count = encrypted_rows(conninfo)
    except psycopg.Error as exc:
        # Not fatal: the database may just not be up yet (compose starts it after setup).
        print(
            f"warning: could not check {where} for encrypted data ({type(exc).__name__}); "
            "if it holds any, put its .env back before running the app",
            file=sys.stderr,
        )
        return 0
    if count:
        print(
            f"error: .env is missing, but {where} holds {count} encrypted value(s) written with the keys it had. "
            "Fresh keys could never open them, so none were made. Put the old .env back (or set DJANGO_SECRET_KEY "
            "and FIELD_ENCRYPTION_SALT_KEYS to their old values) and run this again. To start over without that "
            "data, delete the database first (make db-stop, then remove the data folder).",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
