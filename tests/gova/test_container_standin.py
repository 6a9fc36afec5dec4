"""The image's start command, run the way the container runs it: as an unprivileged user in a root-owned,
read-only copy of the app (no Docker engine here; this stand-in found the image's permission problems)."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import django
import psycopg
import pytest

from devdb.server import _enterable_by_others
from tests.gova.test_compose_contract import DOCKERFILE, dockerfile_instruction

PROJECT_DIR = Path(__file__).resolve().parents[2]
NOBODY = 65534
# The virtualenv's interpreter may live in root's home, which `nobody` cannot enter: the system's
# Python of the same minor version runs the virtualenv's packages instead (the image's own python).
SYSTEM_PYTHON = Path("/usr/bin/python3")
SITE_PACKAGES = Path(django.__file__).parent.parent


def _system_python_matches() -> bool:
    if not SYSTEM_PYTHON.exists():
        return False
    version = subprocess.run([SYSTEM_PYTHON, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True)
    return version.stdout.decode().strip() == str(sys.version_info[:2])


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.geteuid() != 0 or not _system_python_matches() or not _enterable_by_others(SITE_PACKAGES),
        reason="needs root to own the copy and become another user, /usr/bin/python3 of this minor version, "
        "and a virtualenv others can read (not under /root)",
    ),
]


@pytest.fixture
def image(empty_database, server_login):
    """/app as the Dockerfile builds it: the tracked files, root-owned, read-only for others; plus a fresh database."""
    root = Path(tempfile.mkdtemp(prefix="gova-image-"))
    root.chmod(0o755)
    app = root / "app"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=PROJECT_DIR, check=True,
                           capture_output=True, text=True).stdout.split()  # fmt: skip
    for name in files:
        if (PROJECT_DIR / name).is_file():
            (app / name).parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            shutil.copy(PROJECT_DIR / name, app / name)
            (app / name).chmod(0o755 if os.access(PROJECT_DIR / name, os.X_OK) else 0o644)
    backup_dir = re.search(r"ENV GOVA_BACKUP_DIR=(\S+)", DOCKERFILE)
    volume = None
    if backup_dir and re.search(rf"chown gova:gova {backup_dir[1]}", DOCKERFILE):
        volume = app / Path(backup_dir[1]).relative_to("/app")
        volume.mkdir(parents=True)
        os.chown(volume, NOBODY, NOBODY)  # the image's `gova` user; a new named volume keeps this owner

    # `python` and `gunicorn` on PATH, as in the image.
    bin_dir = root / "bin"
    bin_dir.mkdir(mode=0o755)
    (bin_dir / "python").symlink_to(SYSTEM_PYTHON)
    (bin_dir / "gunicorn").write_text('#!/bin/sh\nexec python -m gunicorn "$@"\n')
    (bin_dir / "gunicorn").chmod(0o755)

    name, _ = empty_database
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "PYTHONPATH": str(SITE_PACKAGES),
        "HOME": "/nonexistent",
        "PYTHONDONTWRITEBYTECODE": "1",
        # The password apart from the URL, as compose passes it.
        "DATABASE_URL": f"postgres://{server_login['user']}@{server_login['host']}:{server_login['port']}/{name}",
        "DATABASE_PASSWORD": server_login["password"],
        "DJANGO_SECRET_KEY": "container-stand-in",
        "FIELD_ENCRYPTION_SALT_KEYS": "container-stand-in",
        "DJANGO_DEBUG": "false",
        **({"GOVA_BACKUP_DIR": str(volume)} if volume else {}),
    }
    try:
        yield app, env, empty_database[1]
    finally:
        shutil.rmtree(root, ignore_errors=True)


def as_nobody(argv, app, env, **kwargs):
    return subprocess.run(argv, cwd=app, env=env, user=NOBODY, group=NOBODY, extra_groups=[], capture_output=True,
                          text=True, timeout=300, **kwargs)  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_start_command_migrates_and_serves_and_backups_work_as_the_unprivileged_user(image):
    app, env, database_url = image
    port = free_port()
    shell, flag, command = json.loads(dockerfile_instruction("CMD"))
    command = command.replace("--bind 0.0.0.0:8000", f"--bind 127.0.0.1:{port}").replace("--workers 3", "--workers 1")
    started = subprocess.Popen(
        [shell, flag, command], cwd=app, env=env, user=NOBODY, group=NOBODY, extra_groups=[],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        status = None
        for _ in range(240):  # a bound, not a timing check: migrate on a fresh database takes seconds
            if status == 200 or started.poll() is not None:
                break
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).status
            except OSError:
                time.sleep(0.5)
    finally:
        if started.poll() is None:
            os.killpg(started.pid, signal.SIGTERM)
        output = started.communicate(timeout=60)[0]
    assert status == 200, output
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT to_regclass('evaluation_events') IS NOT NULL").fetchone() == (True,)

    backup = as_nobody(["python", "manage.py", "backup_events"], app, env)
    assert backup.returncode == 0, backup.stderr
    assert "Backed up to" in backup.stdout

    # What an operator may run in the container: read-only checks; makemigrations itself belongs to a checkout.
    check = as_nobody(["python", "manage.py", "makemigrations", "--check", "--dry-run"], app, env)
    assert check.returncode == 0, check.stdout + check.stderr
