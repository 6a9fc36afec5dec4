"""The before/after row fingerprint adoption relies on: blind to row order, not to a changed value."""

import pytest
from django.db import connection

from takeover.adoption import table_fingerprints
from tests.factories import EvaluationEventFactory

pytestmark = pytest.mark.django_db

COLUMNS = {"evaluation_events": {"event_id", "severity_score", "context", "created_at"}}


def test_the_fingerprint_ignores_physical_order_but_sees_any_changed_value():
    events = EvaluationEventFactory.create_batch(5)
    before = table_fingerprints(connection, COLUMNS)
    assert before["evaluation_events"][0] == 5
    with connection.cursor() as cursor:
        # Rewrites every row (new physical order), values unchanged.
        cursor.execute("UPDATE evaluation_events SET severity_score = severity_score")
        assert table_fingerprints(connection, COLUMNS) == before
        cursor.execute("UPDATE evaluation_events SET severity_score = 0.25 WHERE event_id = %s", [events[2].pk])
    assert table_fingerprints(connection, COLUMNS) != before


def test_the_fingerprint_counts_a_missing_row():
    events = EvaluationEventFactory.create_batch(3)
    before = table_fingerprints(connection, COLUMNS)
    events[0].delete()
    assert table_fingerprints(connection, COLUMNS)["evaluation_events"][0] == before["evaluation_events"][0] - 1
