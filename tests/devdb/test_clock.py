"""The database server keeps the test process's clock, and a run with the clock moved ahead
(scripts/test-clock-ahead, GOVA_CLOCK_AHEAD days) moves it for both."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection


def server_clock() -> datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_the_servers_clock_is_the_test_processs_clock():
    before = datetime.now(UTC)
    server_now = server_clock()
    after = datetime.now(UTC)
    # A minute of slack: a server on another machine (DATABASE_URL) may drift a little, never by days.
    assert before - timedelta(minutes=1) < server_now < after + timedelta(minutes=1)


@pytest.mark.django_db
@pytest.mark.skipif(not os.environ.get("GOVA_CLOCK_AHEAD"), reason="the clock is moved only by GOVA_CLOCK_AHEAD")
def test_the_moved_clock_is_ahead_of_the_machines(tmp_path):
    # A file's modification time comes from the kernel's clock, which neither tool moves.
    marker = tmp_path / "now"
    marker.write_text("")
    machine_now = datetime.fromtimestamp(marker.stat().st_mtime, UTC)
    ahead = timedelta(days=int(os.environ["GOVA_CLOCK_AHEAD"]))
    assert server_clock() - machine_now > ahead - timedelta(hours=1)
    assert datetime.now(UTC) - machine_now > ahead - timedelta(hours=1)
