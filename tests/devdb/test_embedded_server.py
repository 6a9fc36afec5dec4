"""The embedded PostgreSQL launcher: shared between processes, restartable, and clear when it can't help."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from devdb.server import EmbeddedPostgres, EmbeddedPostgresError, _enterable_by_others, _is_alive, default_bin_dir
from gova.database_url import url_for

DEBIAN_POSTGRES_WITHOUT_PGVECTOR = Path("/usr/lib/postgresql/15/bin")

pytestmark = pytest.mark.slow  # extra servers and manage.py processes


@pytest.fixture
def server(pg_folder):
    embedded = EmbeddedPostgres(pg_folder, os.environ.get("GOVA_PG_BIN") or None)
    yield embedded
    embedded.stop()


def connect(info, dbname="postgres"):
    return psycopg.connect(host=info.host, port=info.port, user=info.user, password=info.password, dbname=dbname)


def test_concurrent_processes_share_one_server(server, project_dir):
    script = (
        "import sys; from devdb.server import EmbeddedPostgres as E; "
        "print(E(sys.argv[1], sys.argv[2] or None).ensure_running().port)"
    )
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(server.folder), os.environ.get("GOVA_PG_BIN", "")],
            cwd=project_dir,
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(4)
    ]
    ports = {int(starter.communicate(timeout=120)[0]) for starter in starters}
    assert ports == {server.running_port()}


def test_a_killed_server_is_started_again_on_next_use(server):
    info = server.ensure_running()
    pid = int((server.cluster / "postmaster.pid").read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    for _ in range(200):  # not our child: wait until it is a zombie, which nothing here reaps
        if not _is_alive(pid):
            break
        time.sleep(0.05)
    assert server.running_port() is None
    info = server.ensure_running()
    with connect(info) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_password_authentication_is_required(server):
    info = server.ensure_running()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(host=info.host, port=info.port, user=info.user, password="wrong", dbname="postgres")


def test_stop_reports_whether_it_stopped_anything(server):
    server.ensure_running()
    assert server.stop() is True
    assert server.running_port() is None
    assert server.stop() is False


def test_missing_binaries_give_a_clear_error(tmp_path):
    with pytest.raises(EmbeddedPostgresError, match="no PostgreSQL binaries"):
        EmbeddedPostgres(tmp_path / "pg", tmp_path / "nowhere").ensure_running()


@pytest.mark.skipif(not DEBIAN_POSTGRES_WITHOUT_PGVECTOR.exists(), reason="needs Debian's PostgreSQL 15 binaries")
def test_migrate_on_a_server_without_pgvector_fails_with_one_clear_message_and_applies_nothing(pg_folder, manage):
    plain = EmbeddedPostgres(pg_folder, DEBIAN_POSTGRES_WITHOUT_PGVECTOR)
    try:
        info = plain.ensure_running()
        url = url_for(user=info.user, password=info.password, host=info.host, port=info.port, name="postgres")
        result = manage("migrate", env={"DATABASE_URL": url})
        assert result.returncode == 1
        assert "pgvector is missing" in result.stderr and "apt install postgresql-15-pgvector" in result.stderr
        assert "Traceback" not in result.stderr
        with connect(info) as conn:
            tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
        assert tables == 0
    finally:
        plain.stop()


@pytest.mark.parametrize(
    "url",
    [
        "mysql://user:secret-pw@host/db",
        "not a url",
        "postgres://user:secret-pw@host:port/db",
        "postgres://user:secret-pw@host:5432",
    ],
)
def test_a_malformed_database_url_is_one_line_naming_the_variable(manage, url):
    result = manage("check", env={"DATABASE_URL": url})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "DATABASE_URL" in result.stderr
    assert "secret-pw" not in result.stderr


def test_a_missing_secret_key_is_one_line(manage):
    result = manage("check", env={"DJANGO_SECRET_KEY": ""})
    assert result.returncode == 1 and "DJANGO_SECRET_KEY" in result.stderr and "Traceback" not in result.stderr


def test_embedded_db_command_shows_status_and_stops(manage, pg_folder):
    env = {"GOVA_PGDATA": str(pg_folder)}
    assert "running on 127.0.0.1" in manage("embedded_db", "start", env=env).stdout
    status = manage("embedded_db", "status", env=env).stdout
    assert "running on 127.0.0.1" in status and "PostgreSQL" in status
    assert manage("embedded_db", "stop", env=env).stdout.strip() == "stopped"
    assert "not running" in manage("embedded_db", "status", env=env).stdout


SYSTEM_PYTHON = Path("/usr/bin/python3")  # the launcher needs only the standard library


@pytest.mark.skipif(
    os.geteuid() != 0 or not SYSTEM_PYTHON.exists() or not _enterable_by_others(settings.BASE_DIR),
    reason="needs root to become another user, who must be able to read this checkout (not under /root)",
)
def test_a_normal_user_runs_the_server_as_itself(pg_folder, project_dir):
    """As a normal user no OS user is switched: the server runs as whoever started it.
    (The virtualenv's interpreter may live in root's home, which `nobody` cannot enter.)"""
    folder = Path(pg_folder)
    folder.mkdir()
    os.chown(folder, 65534, 65534)  # nobody
    script = (
        "import os, sys; from devdb.server import EmbeddedPostgres as E; "
        "server = E(sys.argv[1], sys.argv[2] or None); info = server.ensure_running(); "
        "owner = os.stat(server.cluster / 'postmaster.pid').st_uid; server.stop(); print(owner)"
    )
    result = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", script, str(folder), str(reachable_bin_dir(folder))],
        cwd=project_dir, capture_output=True, text=True, timeout=120, user=65534, group=65534, extra_groups=[],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == 65534


def reachable_bin_dir(folder) -> Path:
    """The binaries, or in a checkout others cannot enter (under /root) the launcher's reachable copy of them."""
    return EmbeddedPostgres(folder, os.environ.get("GOVA_PG_BIN") or None)._server_bin_dir()


def test_dbshell_uses_the_embedded_psql(manage):
    result = manage("dbshell", "--", "-At", "-c", "SELECT name FROM pg_available_extensions WHERE name = 'vector'")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "vector"
    # Not a psql from PATH: the one in the embedded package, matching the server.
    bin_dir = os.environ.get("GOVA_PG_BIN") or str(default_bin_dir())
    failed = manage("dbshell", "--", "-c", "SELECT no_such_column")
    assert f"{bin_dir}/psql" in failed.stderr
