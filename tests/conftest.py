import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from gova.database_url import url_for

PROJECT_DIR = Path(settings.BASE_DIR)

# A test that takes one of these starts a manage.py process, an extra server or a scratch database: it is
# `slow` (make test-quick skips it) without saying so itself. Tests that start processes directly carry the mark.
SLOW_FIXTURES = frozenset(
    {"manage", "scratch_database", "empty_database", "pg_folder", "least_privileged_database", "checkout"}
)


@pytest.hookimpl(tryfirst=True)  # before -m "not slow" deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES.intersection(item.fixturenames) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("slow"):
            # With pytest-xdist's --dist loadgroup (make test), the slow tests run one after another in one
            # worker: their manage.py processes share the server's `gova` database and its roles.
            item.add_marker(pytest.mark.xdist_group("slow"))


@pytest.fixture
def project_dir() -> Path:
    return PROJECT_DIR


@pytest.fixture
def manage():
    """Run `manage.py` in a real subprocess (same environment, so the same embedded server), `env` added."""

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
def server_params(django_db_blocker) -> dict:
    """host, port, user and password of the test server (started if it is not yet)."""
    with django_db_blocker.unblock():
        connection.ensure_connection()
        params = connection.get_connection_params()
    return {key: params[key] for key in ("host", "port", "user", "password")}


@pytest.fixture
def database_url(server_params):
    """A DATABASE_URL for a database of the test server, credentials quoted."""

    def url(name: str) -> str:
        return url_for(name=name, **server_params)

    return url


@pytest.fixture
def scratch_database(server_params, database_url):
    """An empty database on the test server: (its DATABASE_URL, a connect() for it); dropped afterwards."""
    name = f"scratch_{os.urandom(6).hex()}"
    with psycopg.connect(**server_params, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield database_url(name), lambda: psycopg.connect(**server_params, dbname=name, autocommit=True)
    with psycopg.connect(**server_params, dbname="postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


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
