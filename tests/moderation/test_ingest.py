"""Recording evaluations: behaviour score maths, batch atomicity, concurrency, the async paths."""

import asyncio
import threading
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction

from moderation.ingest import EvaluationInput
from moderation.models import EMBEDDING_DIMENSIONS, EvaluationEvent, Moderator
from moderation.services import (
    aevaluation_events_record,
    evaluation_event_record,
    evaluation_events_record,
    evaluation_events_record_async,
    evaluation_events_record_stream,
)
from tests.factories import ModeratorFactory, message_context


def expected_scores(severities: list[float]) -> list[float]:
    """The definition, spelled out: mean of the last 100 (this one included), rounded half up to 2 decimals."""
    scores = []
    for end in range(1, len(severities) + 1):
        window = severities[max(0, end - 100) : end]
        mean = sum(Decimal(str(s)) for s in window) / len(window)
        scores.append(float(mean.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)))
    return scores


def evaluation(moderator_id, user, severity, embedding=None) -> EvaluationInput:
    return EvaluationInput(moderator_id, user, severity, message_context(user_id=user), embedding)


def stored_scores(moderator_id, user) -> list[float]:
    return list(
        EvaluationEvent.objects.filter(moderator_id=moderator_id, platform_user_id=user)
        .order_by("created_at", "event_id")
        .values_list("behaviour_score", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_behaviour_score_is_the_mean_of_the_last_100_including_several_in_one_batch():
    moderator, other = ModeratorFactory(), ModeratorFactory()
    severities = [round((i * 37 % 101) / 100, 2) for i in range(130)]
    # The same author under another moderator and another author under this one never count.
    evaluation_events_record(events=[evaluation(other.pk, "ana", 1.0), evaluation(moderator.pk, "bo", 1.0)])
    # 60 one at a time... then 70 in two batches, the author's events interleaved with someone else's.
    for severity in severities[:60]:
        evaluation_events_record(events=[evaluation(moderator.pk, "ana", severity)])
    for chunk in (severities[60:100], severities[100:]):
        batch = []
        for severity in chunk:
            batch += [evaluation(moderator.pk, "ana", severity), evaluation(moderator.pk, "cy", 0.0)]
        recorded = evaluation_events_record(events=batch)
        assert [row.behaviour_score for row in recorded[::2]] == expected_scores(severities)[len(stored_scores(
            moderator.pk, "ana")) - len(chunk) : len(stored_scores(moderator.pk, "ana"))]  # fmt: skip
    assert stored_scores(moderator.pk, "ana") == expected_scores(severities)
    assert stored_scores(moderator.pk, "cy")[-1] == 0.0
    assert stored_scores(other.pk, "ana") == [1.0]


@pytest.mark.django_db
def test_severities_count_in_hundredths_rounded_half_up_whatever_their_decimals():
    """severity_hundredths() takes float arithmetic near whole hundredths and numeric elsewhere: numeric's answer
    always (raw SQL writers may store any severity; 0.125 is 13 where float8's round() gives 12)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT i / 200000.0::float8 AS s FROM generate_series(0, 200000) i) t "
            "WHERE severity_hundredths(s) <> round(s::numeric * 100)"
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT severity_hundredths(0.125), severity_hundredths(0.145), severity_hundredths(0.07)")
        assert cursor.fetchone() == (13, 15, 7)


@pytest.mark.django_db(transaction=True)
def test_single_record_returns_the_stored_event_with_its_score():
    moderator = ModeratorFactory()
    with pytest.raises(ValidationError, match="moderator .* does not exist"):
        evaluation_event_record(
            moderator=ModeratorFactory.build(), platform_user_id="u", severity_score=0.2, context={}
        )
    first = evaluation_event_record(moderator=moderator, platform_user_id="u", severity_score=0.2, context={"a": 1})
    second = evaluation_event_record(moderator=moderator, platform_user_id="u", severity_score=0.5, context={"a": 2})
    assert (first.behaviour_score, second.behaviour_score) == (0.2, 0.35)
    stored = EvaluationEvent.objects.get(pk=second.pk)
    assert (stored.behaviour_score, stored.created_at, stored.context) == (0.35, second.created_at, {"a": 2})


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (dict(severity_score=1.5), r"evaluation 1 of the batch \(platform_user_id='bad'\): severity_score 1.5 is out"),
        (dict(severity_score=float("nan")), "severity_score must be a finite number"),
        (dict(embedding=[0.1] * 3), f"embedding must have {EMBEDDING_DIMENSIONS} dimensions, not 3"),
        (dict(context="text"), "context must be a dict"),
        (dict(platform_user_id="b\x00d"), "evaluation 1 .*platform_user_id contains a NUL character"),
        (dict(context={"content": "nul \x00 here"}), r"evaluation 1 .*context contains a NUL character"),
        (dict(moderator_id="0190c0de-0000-7000-8000-000000000000"), "evaluation 1 .*moderator 0190c0de-.* not exist"),
    ],
)
def test_a_bad_item_rejects_the_whole_batch_naming_it_and_the_next_batch_is_fine(bad, message):
    moderator = ModeratorFactory()
    good = dict(moderator_id=moderator.pk, platform_user_id="ok", severity_score=0.5, context={})
    items = [EvaluationInput(**good), EvaluationInput(**{**good, "platform_user_id": "bad", **bad})]
    with pytest.raises(ValidationError, match=message):
        evaluation_events_record(events=items)
    assert EvaluationEvent.objects.count() == 0
    assert len(evaluation_events_record(events=[EvaluationInput(**good)])) == 1
    assert EvaluationEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_rejected_batch_inside_a_caller_transaction_leaves_that_transaction_usable():
    moderator = ModeratorFactory()
    with transaction.atomic():
        evaluation_events_record(events=[evaluation(moderator.pk, "u", 0.4)])
        with pytest.raises(ValidationError, match="does not exist"):
            evaluation_events_record(events=[evaluation("0190c0de-0000-7000-8000-000000000000", "u", 0.4)])
        evaluation_events_record(events=[evaluation(moderator.pk, "u", 0.6)])
    assert stored_scores(moderator.pk, "u") == [0.4, 0.5]


@pytest.mark.django_db
def test_a_batch_stores_every_value_as_given():
    """The batch travels as binary arrays built by hand (moderation.vectors.BinaryArray): every column reads back."""
    moderator, other = ModeratorFactory(), ModeratorFactory()
    rng = np.random.default_rng(7)
    vector = rng.normal(size=EMBEDDING_DIMENSIONS).astype(np.float32)
    paris = ZoneInfo("Europe/Paris")
    events = [
        EvaluationInput(moderator.pk, "ünïcode 用户 🙂", 0.07, {"content": "é \u2028 \"quoted\""}, vector,
                        datetime(2026, 7, 14, 18, 30, 15, 123456, tzinfo=paris)),
        EvaluationInput(str(other.pk), "u2", 1, {"n": [1, None, True]}, None, None),
        EvaluationInput(moderator.pk, "u3", 0.0, {}, list(vector[::-1]), datetime(1999, 12, 31, 23, 59, 59, 999999,
                        tzinfo=UTC)),
    ]  # fmt: skip
    recorded = evaluation_events_record(events=events)
    rows = {row.pk: row for row in EvaluationEvent.objects.filter(pk__in=[r.event_id for r in recorded])}
    first, second, third = (rows[r.event_id] for r in recorded)
    assert (first.moderator_id, first.platform_user_id, first.severity_score) == (moderator.pk, "ünïcode 用户 🙂", 0.07)
    assert first.context == {"content": 'é \u2028 "quoted"'}
    assert np.array_equal(np.asarray(first.embedding, dtype=np.float32), vector)
    assert first.created_at == datetime(2026, 7, 14, 18, 30, 15, 123456, tzinfo=paris) == recorded[0].created_at
    assert (second.moderator_id, second.severity_score, second.embedding, second.context) == (
        other.pk, 1.0, None, {"n": [1, None, True]})  # fmt: skip
    assert second.created_at == recorded[1].created_at and second.created_at.tzinfo is not None
    assert np.array_equal(np.asarray(third.embedding, dtype=np.float32), vector[::-1])
    assert third.created_at == datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert [r.event_id for r in recorded] == sorted(r.event_id for r in recorded)


@pytest.mark.django_db(transaction=True)
def test_streaming_records_every_batch_and_debug_keeps_no_queries(settings):
    settings.DEBUG = True
    moderator = ModeratorFactory()
    connection.queries_log.clear()
    vector = [1.0] + [0.0] * (EMBEDDING_DIMENSIONS - 1)
    count = evaluation_events_record_stream(
        events=(evaluation(moderator.pk, f"u{i % 7}", 0.3, vector) for i in range(250)), batch_size=100
    )
    assert count == 250 == EvaluationEvent.objects.filter(moderator=moderator).exclude(embedding=None).count()
    assert len(connection.queries) <= 1  # the count above, not one entry per batch or row


UNKNOWN_MODERATOR = "0190c0de-0000-7000-8000-000000000000"


@pytest.mark.django_db(transaction=True)
def test_a_stream_stops_at_the_rejected_batch_and_keeps_the_ones_before_it():
    moderator = ModeratorFactory()
    users = iter(f"u{i}" for i in range(100))
    read = []

    def events():  # batch 3 (items 20-29) holds a bad score; the stream must not read past batch 4
        for i in range(60):
            read.append(i)
            yield evaluation(moderator.pk, next(users), 1.5 if i == 25 else 0.5)

    with pytest.raises(ValidationError, match=r"evaluation 5 of the batch .*severity_score 1.5"):
        evaluation_events_record_stream(events=events(), batch_size=10)
    assert EvaluationEvent.objects.count() == 20
    assert len(read) <= 40  # the batch after the rejected one is read ahead at most, never written


@pytest.mark.django_db(transaction=True)
def test_a_stream_reports_the_earlier_batch_s_server_error_before_a_later_batch_s_bad_item():
    # Batch 2 reaches the server and fails there (unknown moderator) while batch 3, prepared meanwhile, is
    # invalid: the error raised is batch 2's, and nothing of either is written.
    moderator = ModeratorFactory()
    items = [evaluation(moderator.pk, "a", 0.1)] * 2 + [evaluation(UNKNOWN_MODERATOR, "b", 0.1)] * 2
    items += [evaluation(moderator.pk, "c", 0.1), evaluation(moderator.pk, "c", -1.0)]
    with pytest.raises(ValidationError, match=f"moderator {UNKNOWN_MODERATOR} does not exist") as raised:
        evaluation_events_record_stream(events=items, batch_size=2)
    assert raised.value.code == "unknown_moderator"
    assert sorted(EvaluationEvent.objects.values_list("platform_user_id", flat=True)) == ["a", "a"]
    assert len(evaluation_events_record(events=[evaluation(moderator.pk, "d", 0.2)])) == 1  # connection usable


@pytest.mark.django_db(transaction=True)
def test_a_stream_s_events_may_use_the_orm_between_batches():
    # The events are read while the connection is idle, not while a batch is in flight in pipeline mode.
    moderator = ModeratorFactory()

    def events():
        for i in range(35):
            known = EvaluationEvent.objects.filter(moderator=moderator).count()  # the ORM, on the same connection
            yield evaluation(moderator.pk, "u", 0.2 if known < 10 else 0.8)
            # Batch n is read ahead, before batch n - 1 is sent: batches up to n - 2 are committed by then.
            assert known == max(0, i // 10 - 1) * 10

    assert evaluation_events_record_stream(events=events(), batch_size=10) == 35
    assert stored_scores(moderator.pk, "u") == expected_scores([0.2] * 20 + [0.8] * 15)


@pytest.mark.django_db(transaction=True)
def test_a_stream_inside_a_caller_transaction_commits_with_it():
    moderator = ModeratorFactory()
    with pytest.raises(RuntimeError, match="caller gives up"):
        with transaction.atomic():
            assert evaluation_events_record_stream(
                events=[evaluation(moderator.pk, "u", 0.3)] * 25, batch_size=10
            ) == 25  # fmt: skip
            assert EvaluationEvent.objects.count() == 25
            raise RuntimeError("caller gives up")
    assert EvaluationEvent.objects.count() == 0
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        evaluation_events_record_stream(events=[], batch_size=0)


def record_in_thread(moderator_id, users, severity, barrier, errors, single=False):
    try:
        moderator = Moderator.objects.get(pk=moderator_id)
        barrier.wait()
        for _ in range(20):
            if single:  # the one-statement path must serialise with the batch path
                for user in users:
                    evaluation_event_record(
                        moderator=moderator, platform_user_id=user, severity_score=severity, context={}
                    )
            else:
                evaluation_events_record(events=[evaluation(moderator_id, user, severity) for user in users])
    except Exception as exc:  # reported to the test
        errors.append(exc)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_writers_of_the_same_authors_give_serial_scores():
    """Two connections record the same two authors at the same time, one in batches, one event at a time."""
    moderator = ModeratorFactory()
    barrier, errors = threading.Barrier(2), []
    threads = [
        threading.Thread(target=record_in_thread, args=(moderator.pk, ["a", "b"], 1.0, barrier, errors)),
        threading.Thread(target=record_in_thread, args=(moderator.pk, ["b", "a"], 0.0, barrier, errors, True)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for user in ("a", "b"):
        rows = list(
            EvaluationEvent.objects.filter(moderator=moderator, platform_user_id=user)
            .order_by("created_at", "event_id")
            .values_list("severity_score", "behaviour_score")
        )
        assert len(rows) == 40
        # Commit order is the serial order; each score must be the mean of everything before it, itself included.
        assert [score for _, score in rows] == expected_scores([severity for severity, _ in rows])


@pytest.mark.django_db(transaction=True)
def test_async_paths_record_batches():
    moderator = ModeratorFactory()
    settings_dict = connection.settings_dict

    async def main():
        await aevaluation_events_record(events=[evaluation(moderator.pk, "u", 0.2)])
        conninfo = dict(
            host=settings_dict["HOST"], port=settings_dict["PORT"], user=settings_dict["USER"],
            password=settings_dict["PASSWORD"], dbname=settings_dict["NAME"],
        )  # fmt: skip
        async with await psycopg.AsyncConnection.connect(**conninfo, autocommit=True) as pg:
            rows = await evaluation_events_record_async(events=[evaluation(moderator.pk, "u", 0.4)], pg=pg)
            with pytest.raises(ValidationError, match="does not exist"):
                await evaluation_events_record_async(
                    events=[evaluation("0190c0de-0000-7000-8000-000000000000", "u", 0.4)], pg=pg
                )
        # sync_to_async ran on its own thread, with its own Django connection: close it there.
        await sync_to_async(connections.close_all, thread_sensitive=True)()
        return rows

    rows = asyncio.run(main())
    assert rows[0].behaviour_score == 0.3
    assert stored_scores(moderator.pk, "u") == [0.2, 0.3]
