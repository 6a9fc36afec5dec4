"""Folding and similar-content search over rows of every kind of key: the old service's uuid4 keys (above and below
the keys this project makes), uuidv7 keys, and rows stored before the insertion sequence (NULL fold_seq)."""

import os
import uuid
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from psycopg import sql

from gova.db import uuid7
from moderation.ingest import EvaluationInput
from moderation.models import EMBEDDING_DIMENSIONS, EvaluationEvent, PartKind, VectorIndexPart
from moderation.services import evaluation_embeddings_fold, evaluation_events_record
from moderation.similar import PARTS_SQL, Filters, branch_conditions, search
from moderation.vector_index import pending_rows
from tests.factories import ModeratorFactory

pytestmark = pytest.mark.django_db(transaction=True)

FOLD_SEQ_MIGRATION = ("moderation", "0029_evaluationevent_fold_seq")


def vectors(rng, count: int) -> np.ndarray:
    """Unit vectors around a few centres, so that nearest neighbours mean something."""
    points = rng.normal(size=(4, EMBEDDING_DIMENSIONS))
    picks = points[rng.integers(0, 4, count)] + rng.normal(0, 0.02, (count, EMBEDDING_DIMENSIONS))
    return (picks / np.linalg.norm(picks, axis=1, keepdims=True)).astype(np.float32)


def text(vector) -> str:
    return "[" + ",".join(f"{value:.6f}" for value in vector) + "]"


def uuid4_below_todays_keys() -> uuid.UUID:
    """A uuid4 whose first byte is 0: below every uuidv7 made after 1971."""
    return uuid.UUID(bytes=b"\x00" + os.urandom(15), version=4)


def uuid4_above_todays_keys() -> uuid.UUID:
    return uuid.UUID(bytes=b"\xf0" + os.urandom(15), version=4)


def old_service_insert(moderator_id, key, created_at, embedding=None) -> None:
    """The old service's INSERT (its own key and time, its column list), with an embedding when one is given."""
    columns = "event_id, moderator_id, platform_user_id, severity_score, behaviour_score, context, created_at"
    values = [key, moderator_id, f"old-{key.hex[:6]}", 0.5, 0.5, "{}", created_at]
    if embedding is not None:
        columns += ", embedding"
        values.append(text(embedding))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO evaluation_events ({columns}) VALUES ({', '.join(['%s'] * len(values))})", values)


def backfill(key, embedding) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE evaluation_events SET embedding = %s WHERE event_id = %s", [text(embedding), key])


def hnsw_predicates() -> dict[str, str]:
    """Every HNSW index on evaluation_events (registered or not) and its predicate, from the catalog."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(i.indpred, i.indrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
            "WHERE i.indrelid = 'evaluation_events'::regclass AND am.amname = 'hnsw'"
        )
        return dict(cursor.fetchall())


def graphs_holding(key) -> list[str]:
    """The HNSW indexes whose predicate the row satisfies: those an insert of it writes into."""
    holding = []
    with connection.cursor() as cursor:
        for name, predicate in hnsw_predicates().items():
            statement = f"SELECT EXISTS (SELECT 1 FROM evaluation_events WHERE event_id = %s AND ({predicate}))"
            cursor.execute(statement, [key])
            if cursor.fetchone()[0]:
                holding.append(name)
    return holding


def branch_counts() -> dict:
    """Per embedded row, in how many of the search's branches it is (the parts as a search reads them)."""
    with connection.cursor() as cursor:
        cursor.execute(PARTS_SQL)
        parts = tuple(cursor.fetchall())
        memberships = sql.SQL(" + ").join(
            sql.SQL("coalesce(({})::int, 0)").format(condition) for condition, _ in branch_conditions(parts)
        )
        cursor.execute(
            sql.SQL("SELECT event_id, {} FROM evaluation_events WHERE embedding IS NOT NULL")
            .format(memberships)
            .as_string(connection.connection)
        )
        return dict(cursor.fetchall())


def assert_found_exactly_once(rng, expected_rows: int) -> None:
    """Every embedded row is in exactly one branch, and a search through the graphs asking for all of them returns
    each once: the rows an exact search returns."""
    counts = branch_counts()
    assert len(counts) == expected_rows
    assert set(counts.values()) == {1}, {key: n for key, n in counts.items() if n != 1}
    pg = connection.connection
    for query in vectors(rng, 3):
        graphs = [key for key, _ in search(pg, query, expected_rows, Filters(), "hnsw")]
        exact = [key for key, _ in search(pg, query, expected_rows, Filters(), "exact")]
        assert len(graphs) == len(set(graphs)) == expected_rows
        assert set(graphs) == set(exact) == set(counts)


def record(moderator_id, embeddings, created_at=None) -> list:
    """This project's writes: uuidv7 keys, through the batch ingest path."""
    return evaluation_events_record(
        events=[
            EvaluationInput(moderator_id, "new-author", 0.2, {"n": i}, embedding, created_at)
            for i, embedding in enumerate(embeddings)
        ]
    )


def test_uuid4_rows_older_than_the_lag_are_folded_whatever_their_key(capsys):
    rng = np.random.default_rng(21)
    moderator = ModeratorFactory()
    hour_ago = timezone.now() - timedelta(hours=1)
    record(moderator.pk, vectors(rng, 10), hour_ago)
    inserted = [uuid4_below_todays_keys() for _ in range(5)] + [uuid4_above_todays_keys() for _ in range(5)]
    for key, embedding in zip(inserted, vectors(rng, 10), strict=True):
        old_service_insert(moderator.pk, key, hour_ago, embedding)
    backfilled = [uuid4_below_todays_keys() for _ in range(5)] + [uuid4_above_todays_keys() for _ in range(5)]
    for key in backfilled:
        old_service_insert(moderator.pk, key, hour_ago)
    for key, embedding in zip(backfilled, vectors(rng, 10), strict=True):
        backfill(key, embedding)
    assert pending_rows() == 30

    report = evaluation_embeddings_fold(lag_seconds=60)
    assert report.built is not None and report.built.rows == 30
    assert pending_rows() == 0
    call_command("fold_embeddings", "--pending")
    assert "0 rows with an embedding wait to be folded" in capsys.readouterr().out
    sequence_parts = {part.index_name for part in VectorIndexPart.objects.filter(kind=PartKind.SEQUENCE)}
    for key in inserted + backfilled:
        assert len(graphs_holding(key)) == 1 and set(graphs_holding(key)) <= sequence_parts
    assert_found_exactly_once(rng, 30)


def test_a_uuid4_row_below_the_folded_keys_lands_in_no_graph():
    rng = np.random.default_rng(22)
    moderator = ModeratorFactory()
    record(moderator.pk, vectors(rng, 20))
    old_service_insert(moderator.pk, uuid4_below_todays_keys(), timezone.now() - timedelta(days=1), vectors(rng, 1)[0])
    evaluation_embeddings_fold(lag_seconds=0)
    assert pending_rows() == 0

    # Keys below, between and above every folded key, written after the fold.
    folded = sorted(EvaluationEvent.objects.values_list("pk", flat=True))
    late = [uuid4_below_todays_keys(), uuid.UUID(int=(folded[0].int + folded[-1].int) // 2), uuid4_above_todays_keys()]
    for key, embedding in zip(late, vectors(rng, 3), strict=True):
        old_service_insert(moderator.pk, key, timezone.now() - timedelta(days=400), embedding)
        assert graphs_holding(key) == []
    assert pending_rows() == 3
    assert_found_exactly_once(rng, 24)


def test_every_row_is_in_exactly_one_branch_across_folds_merges_and_updates():
    rng = np.random.default_rng(23)
    moderator = ModeratorFactory()
    day_ago = timezone.now() - timedelta(days=1)
    # Rows stored before the insertion sequence: fold_seq NULL (a writer that sets it, as a restore does).
    stored = [uuid4_below_todays_keys(), uuid4_above_todays_keys(), uuid7()]
    for key, embedding in zip(stored, vectors(rng, 3), strict=True):
        EvaluationEvent.objects.create(
            event_id=key, moderator=moderator, platform_user_id="stored", severity_score=0.1, context={},
            embedding=embedding.tolist(), created_at=day_ago, fold_seq=None,
        )  # fmt: skip
    assert_found_exactly_once(rng, 3)
    total = 3
    for _ in range(3):
        record(moderator.pk, vectors(rng, 5))
        for key in (uuid4_below_todays_keys(), uuid4_above_todays_keys()):
            old_service_insert(moderator.pk, key, day_ago, vectors(rng, 1)[0])
        total += 7
        assert_found_exactly_once(rng, total)
        evaluation_embeddings_fold(lag_seconds=0, max_parts=2)
        assert_found_exactly_once(rng, total)
    # max_parts=2 counts the stored part, which holds rows: one sequence part.
    assert VectorIndexPart.objects.filter(kind=PartKind.SEQUENCE).count() == 1
    assert pending_rows() == 0
    for key in stored:
        assert graphs_holding(key) == [VectorIndexPart.objects.get(kind=PartKind.STORED).index_name]

    # A new embedding written by UPDATE moves its row, stored or folded, to the tail: out of its graph's range.
    moved = [stored[0], EvaluationEvent.objects.exclude(fold_seq=None).order_by("fold_seq").first().pk]
    for key, embedding in zip(moved, vectors(rng, 2), strict=True):
        backfill(key, embedding)
        assert graphs_holding(key) == []
    assert pending_rows() == 2
    assert_found_exactly_once(rng, total)
    evaluation_embeddings_fold(lag_seconds=0, max_parts=2)
    assert pending_rows() == 0
    assert_found_exactly_once(rng, total)


def test_the_fold_stops_at_the_first_row_younger_than_the_lag_but_not_at_one_dated_in_the_future():
    rng = np.random.default_rng(24)
    moderator = ModeratorFactory()
    now = timezone.now()
    for created_at in (now - timedelta(hours=1), now + timedelta(days=1), now - timedelta(hours=1)):
        old_service_insert(moderator.pk, uuid.uuid4(), created_at, vectors(rng, 1)[0])
    (young,) = record(moderator.pk, vectors(rng, 1))
    old_service_insert(moderator.pk, uuid.uuid4(), now - timedelta(hours=1), vectors(rng, 1)[0])

    evaluation_embeddings_fold(lag_seconds=600)
    assert pending_rows() == 2  # the young row and the one after it
    part = VectorIndexPart.objects.get(kind=PartKind.SEQUENCE)
    assert part.rows == 3 and part.seq_high == EvaluationEvent.objects.get(pk=young.event_id).fold_seq
    evaluation_embeddings_fold(lag_seconds=0)
    assert pending_rows() == 0


def test_numbers_a_writer_set_above_the_sequence_are_folded_and_new_rows_still_land_above():
    rng = np.random.default_rng(25)
    moderator = ModeratorFactory()
    (first,) = record(moderator.pk, vectors(rng, 1))
    restored = EvaluationEvent.objects.get(pk=first.event_id).fold_seq + 1_000_000
    EvaluationEvent.objects.create(
        moderator=moderator, platform_user_id="restored", severity_score=0.1, context={},
        embedding=vectors(rng, 1)[0].tolist(), fold_seq=restored,
    )  # fmt: skip
    evaluation_embeddings_fold(lag_seconds=0)
    assert pending_rows() == 0
    (later,) = record(moderator.pk, vectors(rng, 1))
    assert EvaluationEvent.objects.get(pk=later.event_id).fold_seq > restored
    assert graphs_holding(later.event_id) == []
    assert_found_exactly_once(rng, 3)


@pytest.mark.slow  # migrates the test database back and forth
def test_rows_stored_before_the_migration_are_folded_into_one_part_and_found_once():
    rng = np.random.default_rng(26)
    evaluation_embeddings_fold(lag_seconds=0)  # no HNSW index left over from an earlier test
    executor = MigrationExecutor(connection)
    head = executor.loader.graph.leaf_nodes("moderation")
    (before,) = [d for d in executor.loader.get_migration(*FOLD_SEQ_MIGRATION).dependencies if d[0] == "moderation"]
    try:
        executor.migrate([before])
        moderator = ModeratorFactory()
        keys = [uuid4_below_todays_keys(), uuid4_above_todays_keys(), uuid7(), uuid4_above_todays_keys()]
        with connection.cursor() as cursor:
            # The parts of that time are key ranges: 0032's reverse built one below the current key.
            for key, embedding in zip(keys, vectors(rng, 4), strict=True):
                cursor.execute(
                    "INSERT INTO evaluation_events (event_id, moderator_id, platform_user_id, severity_score, context, "
                    "embedding, created_at) VALUES (%s, %s, 'before', 0.5, '{}', %s, now() - interval '1 day')",
                    [key, moderator.pk, text(embedding)],
                )
        MigrationExecutor(connection).migrate(head)

        (stored,) = VectorIndexPart.objects.all()
        assert stored.kind == PartKind.STORED and stored.rows == 4
        assert set(hnsw_predicates()) == {stored.index_name}  # the key-range parts are gone
        for key in keys:
            assert graphs_holding(key) == [stored.index_name]
        assert_found_exactly_once(rng, 4)
        late = uuid4_below_todays_keys()
        old_service_insert(moderator.pk, late, timezone.now(), vectors(rng, 1)[0])
        assert graphs_holding(late) == []
        evaluation_embeddings_fold(lag_seconds=0)
        assert pending_rows() == 0
        assert_found_exactly_once(rng, 5)
    finally:
        MigrationExecutor(connection).migrate(head)
