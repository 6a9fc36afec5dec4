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
def fresh_database(django_db_blocker):
    """An empty database on the test server, as a DATABASE_URL, dropped afterwards."""
    name = f"fresh_{uuid.uuid4().hex[:12]}"
    with django_db_blocker.unblock():
        connection.ensure_connection()
        params = connection.get_connection_params()
    server = {key: params[key] for key in ("host", "port", "user", "password")}
    with psycopg.connect(**server, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgres://{server['user']}:{server['password']}@{server['host']}:{server['port']}/{name}"
    yield url, lambda: psycopg.connect(**server, dbname=name, autocommit=True)
    with psycopg.connect(**server, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
