"""pytest plugin: every test run gets a fresh embedded PostgreSQL and always stops it.

With pytest-xdist (`-n 2`) the workers share the run's server, each in a test database of its own.

GOVA_CLOCK_AHEAD=N (days; scripts/test-clock-ahead) moves the clock N days ahead for the run: Python's wall clock
with time-machine, the embedded server's with libfaketime (GOVA_PG_FAKETIME). Each tool moves only the process it
is given to: libfaketime also moves the monotonic clock, which hangs every timed wait of a Python thread.

Loaded with `-p` (pyproject addopts) so that it runs before pytest-django imports the settings:
GOVA_PGDATA must point at the temporary folder by then. With DATABASE_URL set it starts no server.
"""

import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta

import pytest

_temporary_folder = None
_clock_travel = None


@pytest.hookimpl(tryfirst=True)  # before pytest-django's own hook imports the settings
def pytest_load_initial_conftests(early_config, parser, args):
    global _temporary_folder
    _move_the_clock(os.environ.get("GOVA_CLOCK_AHEAD"))
    if os.environ.get("DATABASE_URL"):
        return
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # A worker of pytest-xdist (-n): it inherits GOVA_PGDATA and uses the run's server with a test
        # database of its own (pytest-django's _gw0, _gw1 ...); the main process stops the server.
        return
    _temporary_folder = tempfile.mkdtemp(prefix="gova-test-pg-")
    # Exported, not only set in settings: subprocesses of tests (manage.py runs) share the server.
    os.environ["GOVA_PGDATA"] = _temporary_folder
    os.environ["GOVA_PG_EPHEMERAL"] = "1"


def _move_the_clock(days: str | None) -> None:
    global _clock_travel
    if not days:
        return
    if not days.isdigit() or int(days) == 0:
        raise pytest.UsageError(f"GOVA_CLOCK_AHEAD must be a whole number of days, not {days!r}")
    if os.environ.get("DATABASE_URL"):
        raise pytest.UsageError("GOVA_CLOCK_AHEAD moves the embedded server's clock: unset DATABASE_URL")
    import time_machine  # a development dependency, only needed here

    os.environ["GOVA_PG_FAKETIME"] = f"+{days}d"
    _clock_travel = time_machine.travel(datetime.now(UTC) + timedelta(days=int(days)), tick=True)
    _clock_travel.start()


def pytest_report_header(config):
    if _temporary_folder is None:
        return "database: DATABASE_URL"
    from devdb.backend.base import embedded_server

    return f"database: embedded {embedded_server().version} in {_temporary_folder}"


def pytest_unconfigure(config):
    if _clock_travel is not None:
        _clock_travel.stop()
    if _temporary_folder is None:
        return
    from devdb.server import EmbeddedPostgres

    try:
        EmbeddedPostgres(_temporary_folder, os.environ.get("GOVA_PG_BIN") or None).stop()
    finally:
        shutil.rmtree(_temporary_folder, ignore_errors=True)
