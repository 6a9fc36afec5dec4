import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def manage():
    """Run `manage.py` in a real subprocess (same environment, so the same embedded server)."""

    def run(*args, env=None, timeout=300):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT_DIR,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def pg_folder():
    """A data folder for an extra embedded server. Not under tmp_path: as root the server runs as
    another OS user, who must be able to enter every parent folder (tmp_path's are private)."""
    parent = tempfile.mkdtemp(prefix="gova-extra-pg-")
    os.chmod(parent, 0o711)
    yield os.path.join(parent, "pg")
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def server_login(django_db_blocker) -> dict:
    """host, port, user and password of the test server's superuser, for the databases and roles a test makes."""
    with django_db_blocker.unblock():
        params = connection.get_connection_params()
    return {key: params[key] for key in ("host", "port", "user", "password")}


@pytest.fixture
def empty_database(server_login):
    """A database with nothing in it, not even migrations, dropped afterwards: (its name, a DATABASE_URL for it)."""
    name = f"gova_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(**server_login, dbname="postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    login = server_login
    try:
        yield name, f"postgres://{login['user']}:{login['password']}@{login['host']}:{login['port']}/{name}"
    finally:
        with psycopg.connect(**server_login, dbname="postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
