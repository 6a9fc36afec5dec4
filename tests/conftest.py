import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

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
