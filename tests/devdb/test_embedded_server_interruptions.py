"""The embedded server under concurrency and interruptions: fresh folders raced, a killed postmaster, a cut-short
initdb, and root in a folder nobody else may enter."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from devdb.server import EmbeddedPostgres, _is_alive, default_bin_dir

PROJECT_DIR = Path(__file__).resolve().parents[2]
BIN_DIR = Path(os.environ.get("GOVA_PG_BIN") or default_bin_dir())


def connect(info):
    return psycopg.connect(host=info.host, port=info.port, user=info.user, password=info.password, dbname="postgres")


pytestmark = pytest.mark.slow  # extra servers and processes, started directly


def start_all(argvs, env=None):
    processes = [
        subprocess.Popen(
            argv,
            cwd=PROJECT_DIR,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for argv in argvs
    ]
    outputs = [process.communicate(timeout=300) for process in processes]
    return [(process.returncode, *output) for process, output in zip(processes, outputs, strict=True)]


def test_two_migrates_on_a_fresh_data_folder_both_succeed(pg_folder):
    env = {"GOVA_PGDATA": pg_folder}
    try:
        results = start_all([[sys.executable, "manage.py", "migrate", "--verbosity", "0"]] * 2, env)
        assert [code for code, _, _ in results] == [0, 0], [err for _, _, err in results]
    finally:
        EmbeddedPostgres(pg_folder, BIN_DIR).stop()


def test_after_a_kill_9_of_the_postmaster_concurrent_users_all_get_a_ready_server(pg_folder):
    server = EmbeddedPostgres(pg_folder, BIN_DIR)
    server.ensure_running()
    try:
        pid = int((server.cluster / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        for _ in range(200):  # not our child: it stays a zombie, which _is_alive counts as gone
            if not _is_alive(pid):
                break
            time.sleep(0.05)
        script = (
            "import sys, psycopg; from devdb.server import EmbeddedPostgres as E; "
            "i = E(sys.argv[1], sys.argv[2]).ensure_running(); "
            "c = psycopg.connect(host=i.host, port=i.port, user=i.user, password=i.password, dbname='postgres'); "
            "print(c.execute('SELECT 1').fetchone()[0])"
        )
        results = start_all([[sys.executable, "-c", script, pg_folder, str(BIN_DIR)]] * 4)
        assert [(code, out.strip()) for code, out, _ in results] == [(0, "1")] * 4, [e for _, _, e in results]
    finally:
        server.stop()


def test_an_initdb_cut_short_leaves_no_cluster_to_start(pg_folder):
    """The launcher dying between initdb and writing the loopback-only settings must not leave a startable cluster."""
    fake_bin = Path(pg_folder).parent / "bin"
    fake_bin.mkdir()
    for binary in BIN_DIR.iterdir():
        (fake_bin / binary.name).symlink_to(binary)
    (fake_bin / "initdb").unlink()
    (fake_bin / "initdb").write_text(f'#!/bin/sh\n"{BIN_DIR}/initdb" "$@"\nexit 1\n')  # done, then "killed"
    (fake_bin / "initdb").chmod(0o755)
    with pytest.raises(Exception, match="initdb failed"):
        EmbeddedPostgres(pg_folder, fake_bin).ensure_running()
    assert not (Path(pg_folder) / "cluster").exists()

    server = EmbeddedPostgres(pg_folder, BIN_DIR)
    try:
        with connect(server.ensure_running()) as conn:
            assert conn.execute("SHOW unix_socket_directories").fetchone() == ("",)
            assert conn.execute("SHOW listen_addresses").fetchone() == ("127.0.0.1",)
    finally:
        server.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="the server switches OS user only when started as root")
def test_as_root_a_project_in_a_private_folder_works_without_opening_it():
    """A clone under /root (mode 700): its .venv's binaries and .pgdata are out of the server user's reach."""
    private = Path(tempfile.mkdtemp(prefix="gova-private-"))  # mode 700, like /root
    # The virtualenv under a private folder: its pgserver package and the libraries its binaries load.
    packages = BIN_DIR.parents[2]
    for source in [BIN_DIR.parent, *packages.glob("pgserver*.libs")]:
        shutil.copytree(source, private / "site-packages" / source.relative_to(packages), symlinks=True,
                        copy_function=os.link)  # fmt: skip
    bin_dir = private / "site-packages" / BIN_DIR.relative_to(packages)
    (private / "project").mkdir(mode=0o700)
    server = EmbeddedPostgres(private / "project" / ".pgdata", bin_dir)
    relocated = []
    try:
        with connect(server.ensure_running()) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        relocated = [server.data_dir.parent, server._server_bin_dir().parents[2]]
        assert all(path.is_relative_to("/var/lib/gova-postgres") for path in relocated)
        assert [os.stat(folder).st_mode & 0o777 for folder in (private, private / "project")] == [0o700, 0o700]
        # A second start (a new process, the server stopped) finds the same cluster through the symlink.
        server.stop()
        with connect(EmbeddedPostgres(private / "project" / ".pgdata", bin_dir).ensure_running()):
            pass
    finally:
        server.stop()
        for path in relocated:
            shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(private, ignore_errors=True)
