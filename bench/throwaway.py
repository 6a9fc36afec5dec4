"""A throwaway embedded PostgreSQL with one database, Django set up on it; stopped and deleted afterwards."""

import os
import shutil
import tempfile
from contextlib import contextmanager


@contextmanager
def throwaway_database(
    name: str,
    *,
    server_settings: dict | None = None,
    announce: bool = True,
    settings_module: str = "gova.settings",
    reuse_folder: str | None = None,
):
    """Yield psycopg connection keywords for database `name` on a fresh server (or the one in `reuse_folder`,
    kept afterwards); DATABASE_URL points Django at it.

    Not under the project or a private tmp folder: as root the server runs as another OS user, who must be able
    to enter this folder (0o711 lets it traverse, not list).
    """
    import psycopg

    from devdb.server import EmbeddedPostgres
    from gova.database_url import url_for

    folder = reuse_folder or tempfile.mkdtemp(prefix="gova-bench-pg-")
    os.chmod(folder, 0o711)
    server = EmbeddedPostgres(os.path.join(folder, "pg"), settings=server_settings)
    django_ready = False
    try:
        info = server.ensure_running()
        conninfo = {"host": info.host, "port": info.port, "user": info.user, "password": info.password}
        with psycopg.connect(**conninfo, dbname="postgres", autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                conn.execute(f"CREATE DATABASE {name}")
            version = conn.execute("SHOW server_version").fetchone()[0]
        if announce:
            print(f"embedded PostgreSQL {version} on {info.host}:{info.port}, database {name!r}", flush=True)
        # Before django.setup(): settings read DATABASE_URL once, and it beats .env.
        os.environ["DATABASE_URL"] = url_for(
            user=info.user, password=info.password, host=info.host, port=info.port, name=name
        )
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
        import django

        django.setup()
        django_ready = True
        yield {**conninfo, "dbname": name}
    finally:
        try:
            if django_ready:
                from django.db import connections

                connections.close_all()
            server.stop()
        finally:
            if not reuse_folder:
                shutil.rmtree(folder, ignore_errors=True)
