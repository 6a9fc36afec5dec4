"""The project's PostgreSQL backend (gova.backend), pointed at the embedded server (started on first connection).

Used only when DATABASE_URL is unset. Starting lazily, at the first connection rather than
at settings import, lets `manage.py help`, `makemigrations --check` and the test runner's own
set-up choose the data folder before any server starts.
"""

import psycopg
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import client

from devdb.server import EmbeddedPostgres, EmbeddedPostgresError
from gova.backend import base as gova_base


def embedded_server() -> EmbeddedPostgres:
    # Tests run their own server with durability off: nothing there outlives the run.
    durability_off = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
    tuning = durability_off if settings.GOVA_PG_EPHEMERAL else {}
    return EmbeddedPostgres(settings.GOVA_PGDATA, settings.GOVA_PG_BIN, tuning)


class DatabaseClient(client.DatabaseClient):
    @classmethod
    def settings_to_cmd_args_env(cls, settings_dict, parameters):
        args, env = super().settings_to_cmd_args_env(settings_dict, parameters)
        # The psql shipped with the embedded server: the machine may have none, or one of another version.
        args[0] = str(embedded_server().bin_dir / "psql")
        return args, env

    def runshell(self, parameters):
        self.connection.ensure_connection()  # starts the server and fills in its port and password
        super().runshell(parameters)


class DatabaseWrapper(gova_base.DatabaseWrapper):
    client_class = DatabaseClient

    def get_connection_params(self):
        try:
            info = embedded_server().ensure_running()
        except EmbeddedPostgresError as exc:
            raise ImproperlyConfigured(f"embedded PostgreSQL ({settings.GOVA_PGDATA}): {exc}") from None
        # Written back so dbshell, subprocesses of tests and the test database copy see them.
        self.settings_dict.update(HOST=info.host, PORT=str(info.port), USER=info.user, PASSWORD=info.password)
        params = super().get_connection_params()
        _create_database_once(params)
        return params


_databases_seen = set()


def _create_database_once(params) -> None:
    """The embedded cluster starts with only `postgres`; create the configured database on first use."""
    name = params.get("dbname")
    key = (params["port"], name)
    if not name or name == "postgres" or key in _databases_seen:
        return
    server_params = {k: v for k, v in params.items() if k in {"host", "port", "user", "password"}}
    with psycopg.connect(**server_params, dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            try:
                conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                # Another process created it between the check and here. Caught mid-creation, PostgreSQL
                # reports a unique violation on pg_database_datname_index instead of "already exists".
                pass
    _databases_seen.add(key)
