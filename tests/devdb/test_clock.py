"""The database server keeps the test process's clock, so a run with the clock moved (scripts/test-clock-ahead)
moves it for both, and code that mixes Python's now() with the server's now() sees one time."""

from datetime import UTC, datetime

import pytest
from django.db import connection


@pytest.mark.django_db
def test_the_servers_clock_is_the_test_processs_clock():
    before = datetime.now(UTC)
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        (server_now,) = cursor.fetchone()
    after = datetime.now(UTC)
    # A minute of slack: a server on another machine (DATABASE_URL) may drift a little, never by days.
    assert abs((server_now - before).total_seconds()) < 60 and abs((after - server_now).total_seconds()) < 60
