import time
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dbops.operations import UUIDV7_FALLBACK_COMMENT, uuidv7_fallback_sql
from gova.db import uuid7, uuid7_block
from moderation.models import EvaluationEvent
from tests.factories import EvaluationEventFactory, ModeratorFactory, message_context

KEYS_IN_ONE_STATEMENT = 5000


def unix_ms(key: uuid.UUID) -> int:
    return key.int >> 80


def assert_strictly_increasing_v7(keys):
    assert all(key.version == 7 and key.variant == uuid.RFC_4122 for key in keys)
    out_of_order = sum(1 for earlier, later in zip(keys, keys[1:], strict=False) if not earlier < later)
    assert out_of_order == 0, f"{out_of_order} of {len(keys)} keys out of order"


def test_python_uuid7_is_version_7_increasing_and_on_the_clock():
    before = time.time_ns() // 1_000_000
    keys = [uuid7() for _ in range(20_000)]
    after = time.time_ns() // 1_000_000
    assert_strictly_increasing_v7(keys)
    # Bursts step the sub-millisecond fraction, not the millisecond: no drift into the future.
    assert before <= unix_ms(keys[0]) and unix_ms(keys[-1]) <= after + 5


def test_a_block_of_keys_is_the_same_layout_and_continues_the_sequence():
    before = uuid7()
    block = uuid7_block(5_000)
    after = uuid7()
    keys = [uuid.UUID(bytes=block[n : n + 16]) for n in range(0, len(block), 16)]
    assert len(keys) == 5_000
    assert_strictly_increasing_v7([before, *keys, after])
    assert unix_ms(keys[-1]) <= time.time_ns() // 1_000_000 + 5


def generate_in_one_statement(function: str) -> list[uuid.UUID]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {function} FROM generate_series(1, %s) ORDER BY generate_series", [KEYS_IN_ONE_STATEMENT]
        )
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
def test_database_uuidv7_keys_strictly_increase_within_one_statement():
    """uuidv7() as the server resolves it: native on PostgreSQL 18, the migration's fallback before."""
    keys = generate_in_one_statement("uuidv7()")
    assert_strictly_increasing_v7(keys)
    with connection.cursor() as cursor:
        cursor.execute("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint")
        now_ms = cursor.fetchone()[0]
    assert abs(unix_ms(keys[-1]) - now_ms) < 5_000


@pytest.mark.django_db
def test_fallback_uuidv7_function_is_monotonic_and_rfc_9562():
    """The fallback itself, also on PostgreSQL 18 where uuidv7() would resolve to the built-in."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE SCHEMA uuidv7_fallback_test")
        cursor.execute(uuidv7_fallback_sql('"uuidv7_fallback_test"'))
        cursor.execute("SELECT obj_description('uuidv7_fallback_test.uuidv7()'::regprocedure, 'pg_proc')")
        assert cursor.fetchone()[0] == UUIDV7_FALLBACK_COMMENT
    keys = generate_in_one_statement("uuidv7_fallback_test.uuidv7()")
    assert_strictly_increasing_v7(keys)


@pytest.mark.django_db
def test_on_this_server_uuidv7_is_native_from_18_and_the_fallback_before():
    with connection.cursor() as cursor:
        cursor.execute("SELECT obj_description('uuidv7()'::regprocedure, 'pg_proc')")
        comment = cursor.fetchone()[0]
    if connection.pg_version >= 180000:
        assert comment != UUIDV7_FALLBACK_COMMENT
    else:
        assert comment == UUIDV7_FALLBACK_COMMENT


@pytest.mark.django_db
def test_save_create_and_bulk_create_return_objects_with_their_key():
    moderator = ModeratorFactory()
    created = EvaluationEvent.objects.create(moderator=moderator, platform_user_id="u", severity_score=0.5, context={})
    saved = EvaluationEvent(moderator=moderator, platform_user_id="u", severity_score=0.5, context={})
    saved.save()
    bulk = EvaluationEvent.objects.bulk_create(
        [EvaluationEvent(moderator=moderator, platform_user_id="u", severity_score=0.5, context={}) for _ in range(3)]
    )
    for event in [created, saved, *bulk]:
        assert isinstance(event.pk, uuid.UUID) and event.pk.version == 7
        assert EvaluationEvent.objects.filter(pk=event.pk).exists()
    assert_strictly_increasing_v7([created.pk, saved.pk, *(event.pk for event in bulk)])


@pytest.mark.django_db
def test_raw_sql_insert_gets_a_uuidv7_key_and_timestamps_from_the_database():
    moderator = ModeratorFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO evaluation_events (moderator_id, platform_user_id, severity_score, context) "
            "VALUES (%s, 'raw', 0.3, '{}') RETURNING event_id, behaviour_score, created_at",
            [moderator.pk],
        )
        key, behaviour_score, created_at = cursor.fetchone()
    assert key.version == 7
    assert behaviour_score == 0.0 and created_at is not None


@pytest.mark.django_db
def test_full_clean_of_a_new_row_never_filters_on_uuidv7():
    event = EvaluationEventFactory.build(moderator=ModeratorFactory(), context=message_context())
    with CaptureQueriesContext(connection) as queries:
        event.full_clean()
    assert not any("uuidv7()" in query["sql"] for query in queries.captured_queries)
