"""evaluation_latest_scores (the leaderboard's table) follows evaluation_events for every writer."""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, connections, transaction

from moderation.ingest import EvaluationInput
from moderation.models import EvaluationEvent, LatestBehaviourScore, Moderator
from moderation.services import evaluation_event_record, evaluation_events_record
from tests.factories import EvaluationEventFactory, ModeratorFactory
from tests.moderation.test_ingest import expected_scores

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)  # before the ingest paths' clock_timestamp()


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def window(moderator_id, user) -> list[int]:
    row = LatestBehaviourScore.objects.get(moderator_id=moderator_id, platform_user_id=user)
    assert row.recent_total == sum(row.recent_severities)  # kept beside the window by every trigger path
    return row.recent_severities


def assert_totals_are_window_sums() -> None:
    for row in LatestBehaviourScore.objects.all():
        assert row.recent_total == sum(row.recent_severities), row


def last_100_in_hundredths(moderator_id, user) -> list[int]:
    """The definition: the author's last 100 severities, oldest first, in hundredths."""
    rows = EvaluationEvent.objects.filter(moderator_id=moderator_id, platform_user_id=user).order_by(
        "-created_at", "-event_id"
    )[:100]
    return [round(row.severity_score * 100) for row in reversed(rows)]


def stored(moderator_id) -> dict:
    return {
        row.platform_user_id: (row.event_id, row.behaviour_score)
        for row in LatestBehaviourScore.objects.filter(moderator_id=moderator_id)
    }


def recomputed(moderator_id) -> dict:
    """The definition: each author's row with the greatest (created_at, event_id)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT ON (platform_user_id) platform_user_id, event_id, behaviour_score FROM evaluation_events "
            "WHERE moderator_id = %s ORDER BY platform_user_id, created_at DESC, event_id DESC",
            [moderator_id],
        )
        return {user: (event_id, score) for user, event_id, score in cursor.fetchall()}


@pytest.mark.django_db
def test_every_writer_keeps_the_latest_row_per_author():
    moderator = ModeratorFactory()
    # The ORM, one row at a time.
    EvaluationEventFactory(moderator=moderator, platform_user_id="ana", behaviour_score=0.2, created_at=at(1))
    newest_ana = EvaluationEventFactory(
        moderator=moderator, platform_user_id="ana", behaviour_score=0.4, created_at=at(5)
    )
    # An older row written later (a late writer, a backfill) does not displace the newer one.
    EvaluationEventFactory(moderator=moderator, platform_user_id="ana", behaviour_score=0.9, created_at=at(3))
    # bulk_create: several rows of one author in one statement, the newest wins.
    EvaluationEvent.objects.bulk_create(
        [
            EvaluationEvent(
                moderator=moderator,
                platform_user_id="bo",
                severity_score=0.1,
                behaviour_score=s,
                context={},
                created_at=at(m),
            )  # fmt: skip
            for s, m in [(0.1, 2), (0.7, 9), (0.3, 4)]
        ]
    )
    # Raw SQL, as the old service or an operator would write.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO evaluation_events (moderator_id, platform_user_id, severity_score, behaviour_score, context) "
            "VALUES (%s, 'cy', 0.5, 0.5, '{}')",
            [moderator.pk],
        )
    # The ingest paths.
    evaluation_events_record(
        events=[EvaluationInput(moderator.pk, "di", 0.6, {}), EvaluationInput(moderator.pk, "di", 0.2, {})]
    )
    single = evaluation_event_record(moderator=moderator, platform_user_id="ed", severity_score=0.8, context={})
    EvaluationEventFactory(platform_user_id="ana", behaviour_score=1.0)  # another moderator's: not in this board

    latest = stored(moderator.pk)
    assert latest == recomputed(moderator.pk)
    assert set(latest) == {"ana", "bo", "cy", "di", "ed"}
    assert latest["ana"] == (newest_ana.pk, 0.4)
    assert latest["bo"][1] == 0.7
    assert latest["di"][1] == 0.4  # (0.6 + 0.2) / 2: the batch's last event
    assert latest["ed"] == (single.pk, 0.8)
    assert_totals_are_window_sums()


@pytest.mark.django_db
def test_deletes_updates_and_truncate_refresh_the_affected_authors():
    moderator = ModeratorFactory()
    older = EvaluationEventFactory(moderator=moderator, platform_user_id="ana", behaviour_score=0.2, created_at=at(1))
    newer = EvaluationEventFactory(moderator=moderator, platform_user_id="ana", behaviour_score=0.6, created_at=at(2))
    only_bo = EvaluationEventFactory(moderator=moderator, platform_user_id="bo", behaviour_score=0.5, created_at=at(1))

    EvaluationEvent.objects.filter(pk=newer.pk).delete()  # the latest goes: the one before it is the latest again
    assert stored(moderator.pk)["ana"] == (older.pk, 0.2)
    EvaluationEvent.objects.filter(pk=only_bo.pk).delete()  # an author's last row goes: so does the author
    assert "bo" not in stored(moderator.pk)

    # An update of the score, and one that moves a row to another author.
    EvaluationEvent.objects.filter(pk=older.pk).update(behaviour_score=0.3)
    assert stored(moderator.pk)["ana"] == (older.pk, 0.3)
    EvaluationEvent.objects.filter(pk=older.pk).update(platform_user_id="cy")
    assert stored(moderator.pk) == {"cy": (older.pk, 0.3)} == recomputed(moderator.pk)
    assert_totals_are_window_sums()

    # A moderator's deletion reaches the table through its evaluations (the database's ON DELETE CASCADE).
    other = ModeratorFactory()
    EvaluationEventFactory(moderator=other, platform_user_id="ana")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM moderators WHERE moderator_id = %s", [other.pk])
    assert not LatestBehaviourScore.objects.filter(moderator_id=other.pk).exists()

    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's transaction holds deferred key checks
        cursor.execute("TRUNCATE evaluation_events CASCADE")
    assert not LatestBehaviourScore.objects.exists()


def insert_and_hold(moderator_id, created_at, inserted: threading.Event, release: threading.Event, errors):
    try:
        with transaction.atomic():
            EvaluationEventFactory(
                moderator=Moderator(pk=moderator_id), platform_user_id="ana", behaviour_score=0.9, created_at=created_at
            )
            inserted.set()
            release.wait(10)
    except Exception as exc:  # reported to the test
        errors.append(exc)
        inserted.set()
    finally:
        connections.close_all()


def insert_now(moderator_id, created_at) -> None:
    EvaluationEventFactory(
        moderator=Moderator(pk=moderator_id), platform_user_id="ana", behaviour_score=0.1, created_at=created_at
    )


def while_a_row_is_held(moderator_id, held_at, write) -> None:
    """Connection A inserts a row of "ana" at `held_at` (behaviour score 0.9) and holds its transaction; `write`
    runs on connection B, which must wait for A (on A's row of the latest table); then A commits, then B."""
    inserted, release, errors = threading.Event(), threading.Event(), []
    holder = threading.Thread(target=insert_and_hold, args=(moderator_id, held_at, inserted, release, errors))
    holder.start()
    assert inserted.wait(10)

    def on_b():
        try:
            write()
        except Exception as exc:  # reported to the test
            errors.append(exc)
        finally:
            connections.close_all()

    waiting = threading.Thread(target=on_b)
    waiting.start()
    time.sleep(0.3)
    still_waiting = waiting.is_alive()
    release.set()
    holder.join()
    waiting.join()
    assert not errors
    assert still_waiting


@pytest.mark.django_db(transaction=True)
def test_two_writers_of_one_author_at_once_keep_the_newer_row_whatever_the_commit_order():
    """Connection A writes the newer row and holds its transaction; B writes an older row, waits for A, commits
    last. The newer row stays the latest."""
    moderator = ModeratorFactory()
    while_a_row_is_held(moderator.pk, at(10), lambda: insert_now(moderator.pk, at(5)))
    assert stored(moderator.pk)["ana"][1] == 0.9
    assert stored(moderator.pk) == recomputed(moderator.pk)


@pytest.mark.django_db(transaction=True)
def test_two_first_writers_of_one_author_both_count_in_its_window():
    """Neither writer sees a stored row for the author: A inserts the older first row and holds its transaction,
    B inserts a newer one and waits on A's row of the latest table, then reads the author again: both count."""
    moderator = ModeratorFactory()
    while_a_row_is_held(moderator.pk, at(5), lambda: insert_now(moderator.pk, at(10)))
    assert stored(moderator.pk)["ana"][1] == 0.1  # B's, the newer
    assert stored(moderator.pk) == recomputed(moderator.pk)
    assert len(window(moderator.pk, "ana")) == 2
    assert window(moderator.pk, "ana") == last_100_in_hundredths(moderator.pk, "ana")


@pytest.mark.django_db(transaction=True)
def test_a_late_row_read_again_while_another_writer_appends_keeps_both_in_the_window():
    """The author has a stored window. A appends a newer row and holds its transaction; B writes a row older than
    the stored latest, so its trigger reads the author again and finds A holding the author's stored row. B must
    read after A commits: read before, its window lacks A's row, and keeping A's newer stored row instead would
    leave B's own severity out."""
    moderator = ModeratorFactory()
    for minutes in (0, 8):
        EvaluationEventFactory(moderator=moderator, platform_user_id="ana", created_at=at(minutes))
    while_a_row_is_held(moderator.pk, at(10), lambda: insert_now(moderator.pk, at(5)))
    assert window(moderator.pk, "ana") == last_100_in_hundredths(moderator.pk, "ana")
    assert len(window(moderator.pk, "ana")) == 4
    assert stored(moderator.pk) == recomputed(moderator.pk)


@pytest.mark.django_db(transaction=True)
def test_a_delete_while_another_writer_appends_keeps_the_appended_row_in_the_window():
    """A appends a newer row and holds its transaction; B deletes an older row of the same author, so its trigger
    reads the author again and finds A holding the author's stored row. Read before A commits, B's window lacks
    A's row; storing it would drop A's row from the window and the latest."""
    moderator = ModeratorFactory()
    doomed = [EvaluationEventFactory(moderator=moderator, platform_user_id="ana", created_at=at(m)) for m in (0, 5, 8)]
    while_a_row_is_held(moderator.pk, at(10), lambda: EvaluationEvent.objects.filter(pk=doomed[1].pk).delete())
    assert window(moderator.pk, "ana") == last_100_in_hundredths(moderator.pk, "ana")
    assert len(window(moderator.pk, "ana")) == 3
    assert stored(moderator.pk) == recomputed(moderator.pk)
    assert stored(moderator.pk)["ana"][1] == 0.9  # A's, the newest


@pytest.mark.django_db
def test_the_severity_window_is_the_last_100_for_every_writer_in_order_or_not():
    moderator = ModeratorFactory()
    # 150 rows in one statement (more than the window), in time order.
    EvaluationEvent.objects.bulk_create(
        [
            EvaluationEvent(
                moderator=moderator, platform_user_id="ana", severity_score=(i % 97) / 100, context={}, created_at=at(i)
            )  # fmt: skip
            for i in range(150)
        ]
    )
    assert window(moderator.pk, "ana") == last_100_in_hundredths(moderator.pk, "ana")
    assert len(window(moderator.pk, "ana")) == 100
    # Appended by the ingest paths (newer rows): the oldest fall out.
    evaluation_events_record(events=[EvaluationInput(moderator.pk, "ana", 0.99, {})] * 3)
    evaluation_event_record(moderator=moderator, platform_user_id="ana", severity_score=0.01, context={})
    assert window(moderator.pk, "ana") == last_100_in_hundredths(moderator.pk, "ana")
    assert window(moderator.pk, "ana")[-4:] == [99, 99, 99, 1]
    # A late row, older than the stored latest: the window is read again, in time order.
    EvaluationEventFactory(
        moderator=moderator, platform_user_id="ana", severity_score=0.5, created_at=at(149) - timedelta(seconds=1)
    )
    assert window(moderator.pk, "ana") == last_100_in_hundredths(moderator.pk, "ana")
    # Deletes shrink it back.
    EvaluationEvent.objects.filter(moderator=moderator, platform_user_id="ana", created_at__gte=at(100)).delete()
    assert window(moderator.pk, "ana") == last_100_in_hundredths(moderator.pk, "ana")


@pytest.mark.django_db
def test_events_loaded_with_triggers_off_are_read_back_when_the_author_writes_again():
    """A data-only restore or a replica apply skips triggers: the author has events but no stored row. Its next
    event finds them (older than the new row) and the window is read from the events, not started afresh."""
    moderator = ModeratorFactory()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred key checks pending at the ALTERs
        cursor.execute("ALTER TABLE evaluation_events DISABLE TRIGGER evaluation_latest_scores_insert")
    for minute, severity in enumerate([0.2, 0.4, 0.6]):
        EvaluationEventFactory(
            moderator=moderator, platform_user_id="ana", severity_score=severity, created_at=at(minute)
        )
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE evaluation_events ENABLE TRIGGER evaluation_latest_scores_insert")
    assert not LatestBehaviourScore.objects.filter(moderator_id=moderator.pk).exists()

    evaluation_events_record(events=[EvaluationInput(moderator.pk, "ana", 0.8, {})])
    assert window(moderator.pk, "ana") == [20, 40, 60, 80]
    assert stored(moderator.pk) == recomputed(moderator.pk)


@pytest.mark.django_db(transaction=True)
def test_two_writers_of_an_author_with_events_but_no_stored_row_both_count():
    """Events loaded with triggers off, then two writers at once: A reads the author's window, stores it and holds
    its transaction; B, which could not see A's stored row, meets its key, waits for A, then reads the author
    again with A's row: all five count."""
    moderator = ModeratorFactory()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE evaluation_events DISABLE TRIGGER evaluation_latest_scores_insert")
    try:
        for minutes in (0, 1, 2):
            EvaluationEventFactory(moderator=moderator, platform_user_id="ana", created_at=at(minutes))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE evaluation_events ENABLE TRIGGER evaluation_latest_scores_insert")
    assert not LatestBehaviourScore.objects.filter(moderator_id=moderator.pk).exists()
    while_a_row_is_held(moderator.pk, at(10), lambda: insert_now(moderator.pk, at(5)))
    assert window(moderator.pk, "ana") == last_100_in_hundredths(moderator.pk, "ana")
    assert len(window(moderator.pk, "ana")) == 5
    assert stored(moderator.pk) == recomputed(moderator.pk)


@pytest.mark.django_db
def test_a_batch_the_ingest_statement_cannot_keep_alone_is_kept_by_the_trigger():
    """The batch path keeps the authors' rows itself when every author's new rows come after its stored latest;
    one late row (an explicit time before the stored latest) leaves the whole statement to the trigger."""
    moderator = ModeratorFactory()
    evaluation_events_record(
        events=[EvaluationInput(moderator.pk, user, 0.1 * (n + 1), {}, created_at=at(10 + n)) for n, user in
                enumerate(["ana", "bo", "ana"])]
    )  # fmt: skip
    evaluation_events_record(
        events=[
            EvaluationInput(moderator.pk, "ana", 0.9, {}, created_at=at(20)),  # after ana's latest: appended
            EvaluationInput(moderator.pk, "bo", 0.5, {}, created_at=at(5)),  # before bo's latest: read again
            EvaluationInput(moderator.pk, "cy", 0.7, {}, created_at=at(1)),  # first-time
        ]
    )
    for user in ("ana", "bo", "cy"):
        assert window(moderator.pk, user) == last_100_in_hundredths(moderator.pk, user)
    assert window(moderator.pk, "ana") == [10, 30, 90]
    assert window(moderator.pk, "bo") == [50, 20]
    assert stored(moderator.pk) == recomputed(moderator.pk)


@pytest.mark.django_db
def test_the_ingest_statements_mark_spares_only_that_statement():
    """The mark lasts the transaction; another writer's statement after it, in the same transaction, is kept by
    the trigger as usual."""
    moderator = ModeratorFactory()
    with transaction.atomic():
        evaluation_events_record(events=[EvaluationInput(moderator.pk, "ana", 0.2, {}, created_at=at(1))])
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('gova.latest_scores_kept', true)")
            assert cursor.fetchone()[0]  # the batch kept its author itself
        EvaluationEventFactory(moderator=moderator, platform_user_id="ana", severity_score=0.4, created_at=at(2))
        assert window(moderator.pk, "ana") == [20, 40]
    assert stored(moderator.pk) == recomputed(moderator.pk)


@pytest.mark.django_db
def test_a_batch_longer_than_the_window_after_a_full_one_scores_by_the_definition():
    """A full stored window, then 120 events of the author in one batch (with another author between them):
    event k counts the newest 100 - k stored severities, so every slice of the stored total is used."""
    moderator = ModeratorFactory()
    history = [round((i * 37 % 101) / 100, 2) for i in range(100)]
    evaluation_events_record(events=[EvaluationInput(moderator.pk, "ana", severity, {}) for severity in history])
    assert len(window(moderator.pk, "ana")) == 100
    batch = [round((i * 61 % 101) / 100, 2) for i in range(120)]
    events = []
    for n, severity in enumerate(batch):
        events.append(EvaluationInput(moderator.pk, "ana", severity, {}))
        if n % 40 == 0:
            events.append(EvaluationInput(moderator.pk, "bo", 0.5, {}))
    recorded = evaluation_events_record(events=events)
    ana_scores = [
        row.behaviour_score for row, event in zip(recorded, events, strict=True) if event.platform_user_id == "ana"
    ]
    assert ana_scores == expected_scores(history + batch)[100:]
    assert window(moderator.pk, "ana") == last_100_in_hundredths(moderator.pk, "ana")
    assert window(moderator.pk, "bo") == [50, 50, 50]
    # One more event: the window is full and stays so, its oldest leaves.
    evaluation_event_record(moderator=moderator, platform_user_id="ana", severity_score=0.07, context={})
    assert window(moderator.pk, "ana") == last_100_in_hundredths(moderator.pk, "ana")
    assert_totals_are_window_sums()


@pytest.mark.django_db(transaction=True)
def test_single_and_batch_paths_agree_over_more_than_100_events():
    moderator = ModeratorFactory()
    severities = [round((i * 53 % 101) / 100, 2) for i in range(140)]
    scores = []
    for n, severity in enumerate(severities):
        if n % 3:
            scores.append(
                evaluation_event_record(
                    moderator=moderator, platform_user_id="ana", severity_score=severity, context={}
                ).behaviour_score
            )
        else:
            scores += [row.behaviour_score for row in evaluation_events_record(
                events=[EvaluationInput(moderator.pk, "ana", severity, {})])]  # fmt: skip
    assert scores == expected_scores(severities)


@pytest.mark.django_db
def test_the_table_has_only_the_indexes_its_reads_use():
    # Every batch updates one row per author, and each update writes into every index (migration 0024 dropped
    # the moderator_id index the primary key already covers).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index "
            "WHERE indrelid = 'evaluation_latest_scores'::regclass ORDER BY 1"
        )
        indexes = dict(cursor.fetchall())
    assert sorted(indexes) == ["evaluation_latest_scores_pkey", "latest_scores_board_idx"]
    assert "(moderator_id, platform_user_id)" in indexes["evaluation_latest_scores_pkey"]


def call_single(moderator_id, user, severity, created_at=None):
    """evaluation_event_insert() as the single path calls it; returns the new key and the transaction's mark."""
    from gova.db import uuid7
    from moderation.ingest import _lock_key

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT * FROM evaluation_event_insert(%s, %s, %s, %s, '{}'::jsonb, NULL, %s, %s)",
            [event_id := uuid7(), moderator_id, user, severity, created_at, _lock_key(moderator_id, user)],
        )
        cursor.execute("SELECT current_setting('gova.latest_scores_kept', true)")
        return event_id, cursor.fetchone()[0] or ""


@pytest.mark.django_db
def test_the_single_path_keeps_its_author_s_row_itself_unless_the_trigger_must():
    """Migration 0025: the one-event function appends to (or starts) its author's window and marks its statement;
    a late row, or older events with no stored row, are left to the trigger. The window is right either way."""
    moderator = ModeratorFactory()
    first, mark = call_single(moderator.pk, "ana", 0.3, at(10))  # first-time author: the row starts here
    assert mark == f"{first}/1" and window(moderator.pk, "ana") == [30]
    second, mark = call_single(moderator.pk, "ana", 0.5, at(11))  # appended
    assert mark == f"{second}/1" and window(moderator.pk, "ana") == [30, 50]
    late, mark = call_single(moderator.pk, "ana", 0.7, at(5))  # older than the stored latest: not marked
    assert mark != f"{late}/1"
    assert window(moderator.pk, "ana") == [70, 30, 50] == last_100_in_hundredths(moderator.pk, "ana")
    for minute in range(100):  # a full window: the oldest leaves, the total follows
        call_single(moderator.pk, "ana", (minute % 10) / 10, at(20 + minute))
    assert window(moderator.pk, "ana") == last_100_in_hundredths(moderator.pk, "ana")
    assert stored(moderator.pk) == recomputed(moderator.pk)
    assert_totals_are_window_sums()

    with connection.cursor() as cursor:  # events with no stored row (loaded with triggers off)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE evaluation_events DISABLE TRIGGER evaluation_latest_scores_insert")
    EvaluationEventFactory(moderator=moderator, platform_user_id="bo", severity_score=0.2, created_at=at(1))
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE evaluation_events ENABLE TRIGGER evaluation_latest_scores_insert")
    unseen, mark = call_single(moderator.pk, "bo", 0.4, at(2))
    assert mark != f"{unseen}/1"
    assert window(moderator.pk, "bo") == [20, 40]
    assert stored(moderator.pk) == recomputed(moderator.pk)
