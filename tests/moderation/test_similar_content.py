"""Similar content: immediate visibility across folds, every strategy's recall on a clustered set with a skewed
moderator, never fewer rows than exist."""

import numpy as np
import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction

from moderation.ingest import EvaluationInput
from moderation.models import EMBEDDING_DIMENSIONS, EvaluationEvent, PartKind, VectorIndexPart
from moderation.services import evaluation_embeddings_fold, evaluation_events_record_stream
from moderation.similar import Filters, has_iterative_scan, search
from tests.factories import ModeratorFactory

pytestmark = pytest.mark.django_db(transaction=True)


def clustered(rng, count: int, centres: np.ndarray, spread: float = 0.35) -> np.ndarray:
    """Unit vectors around random centres, so that nearest neighbours mean something."""
    picks = rng.integers(0, len(centres), count)
    vectors = centres[picks] + rng.normal(0, spread / np.sqrt(EMBEDDING_DIMENSIONS), (count, EMBEDDING_DIMENSIONS))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def centres(rng, count: int) -> np.ndarray:
    points = rng.normal(size=(count, EMBEDDING_DIMENSIONS))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def record(moderator_id, vectors) -> None:
    evaluation_events_record_stream(
        events=(EvaluationInput(moderator_id, f"u{i % 50}", 0.5, {"n": i}, vector) for i, vector in enumerate(vectors)),
        batch_size=500,
    )


class Truth:
    """Exact nearest neighbours computed in numpy from one read of the table."""

    def __init__(self):
        rows = list(EvaluationEvent.objects.exclude(embedding=None).values_list("pk", "moderator_id", "embedding"))
        self.keys = np.array([pk for pk, _, _ in rows], dtype=object)
        self.moderators = np.array([m for _, m, _ in rows], dtype=object)
        vectors = np.array([np.asarray(e, dtype=np.float32) for _, _, e in rows])
        self.vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def nearest(self, query, k, moderator_id=None) -> set:
        mask = np.ones(len(self.keys), bool) if moderator_id is None else self.moderators == moderator_id
        distances = 1 - self.vectors[mask] @ (query / np.linalg.norm(query))
        return set(self.keys[mask][np.argsort(distances)[:k]])


def test_a_new_event_is_found_at_once_folded_or_not():
    rng = np.random.default_rng(1)
    moderator = ModeratorFactory()
    record(moderator.pk, clustered(rng, 300, centres(rng, 5)))
    evaluation_embeddings_fold(lag_seconds=0)
    assert VectorIndexPart.objects.filter(rows__gt=0).exists()
    probe = clustered(rng, 1, centres(rng, 1))[0]
    record(moderator.pk, [probe])  # lands in the tail, outside every graph
    assert EvaluationEvent.objects.similar(probe, k=1)[0].distance == pytest.approx(0, abs=1e-5)
    assert EvaluationEvent.objects.similar(probe, k=1, moderator_id=moderator.pk)[0].distance == pytest.approx(
        0, abs=1e-5
    )
    evaluation_embeddings_fold(lag_seconds=0)  # now inside a graph
    found = EvaluationEvent.objects.similar(probe, k=3)
    assert found[0].distance == pytest.approx(0, abs=1e-5) and len(found) == 3
    # to_event: its own vector, itself excluded.
    neighbours = EvaluationEvent.objects.similar(to_event=found[0], k=2)
    assert found[0] not in neighbours and len(neighbours) == 2


def test_recall_of_every_strategy_on_a_clustered_set_with_a_skewed_moderator():
    rng = np.random.default_rng(7)
    topics = centres(rng, 30)
    big, small = ModeratorFactory(), ModeratorFactory()
    record(big.pk, clustered(rng, 1400, topics))
    record(small.pk, clustered(rng, 100, topics))
    evaluation_embeddings_fold(lag_seconds=0)
    record(big.pk, clustered(rng, 100, topics))  # a tail too
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE evaluation_events")
    strategies = ["hnsw", "exact"] + (["iterative"] if has_iterative_scan(connection.connection) else [])
    queries = clustered(rng, 20, topics)
    truth = Truth()
    for strategy in strategies:
        for moderator_id in (None, big.pk, small.pk):
            if strategy == "hnsw" and moderator_id is not None:
                continue  # a graph scan filtered afterwards: what the planner never picks for a filter
            hits = 0
            for query in queries:
                found = EvaluationEvent.objects.similar(query, k=10, moderator_id=moderator_id, strategy=strategy)
                assert len(found) == 10
                assert [e.distance for e in found] == sorted(e.distance for e in found)
                if moderator_id is not None:
                    assert {e.moderator_id for e in found} == {moderator_id}
                hits += len({e.pk for e in found} & truth.nearest(query, 10, moderator_id))
            assert hits / (10 * len(queries)) >= 0.95, (strategy, moderator_id)


def test_never_fewer_rows_than_exist_and_time_ranges():
    rng = np.random.default_rng(3)
    moderator = ModeratorFactory()
    record(moderator.pk, clustered(rng, 4, centres(rng, 2)))
    assert (
        len(EvaluationEvent.objects.similar(clustered(rng, 1, centres(rng, 1))[0], k=10, moderator_id=moderator.pk))
        == 4
    )
    assert len(EvaluationEvent.objects.similar(clustered(rng, 1, centres(rng, 1))[0], k=10, strategy="hnsw")) == 4
    first = EvaluationEvent.objects.order_by("created_at").first()
    later = EvaluationEvent.objects.similar(np.ones(EMBEDDING_DIMENSIONS), k=10, since=first.created_at, until=None)
    assert len(later) == 4
    assert EvaluationEvent.objects.similar(np.ones(EMBEDDING_DIMENSIONS), k=10, until=first.created_at) == []


def test_fold_merges_parts_and_the_command_reports(capsys):
    rng = np.random.default_rng(5)
    moderator = ModeratorFactory()
    for _ in range(3):
        record(moderator.pk, clustered(rng, 20, centres(rng, 2)))
        evaluation_embeddings_fold(lag_seconds=0, max_parts=2)
    parts = list(VectorIndexPart.objects.filter(kind=PartKind.SEQUENCE).order_by("seq_high"))
    assert len(parts) == 2 and parts[0].seq_high == parts[1].seq_low
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'evaluation_emb_%%'")
        assert cursor.fetchone()[0] == 3  # the stored part and two sequence parts: the merged ones are dropped
    record(moderator.pk, clustered(rng, 5, centres(rng, 1)))
    call_command("fold_embeddings", "--pending")
    assert "5 rows with an embedding wait to be folded" in capsys.readouterr().out
    call_command("fold_embeddings", "--lag", "0")
    assert "folded 5 rows" in capsys.readouterr().out
    assert len(EvaluationEvent.objects.similar(np.ones(EMBEDDING_DIMENSIONS), k=100)) == 65


def test_the_unfiltered_search_keeps_one_plan_that_reads_every_graph():
    """Once psycopg prepares the unfiltered statement it runs a generic plan (no planning per query), and that
    plan reads each part through its own graph: the results stay those of the planned statement."""
    rng = np.random.default_rng(11)
    topics = centres(rng, 10)
    moderator = ModeratorFactory()
    for _ in range(2):
        record(moderator.pk, clustered(rng, 150, topics))
        evaluation_embeddings_fold(lag_seconds=0)
    record(moderator.pk, clustered(rng, 20, topics))  # and a tail
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE evaluation_events")
    parts = list(VectorIndexPart.objects.all())
    assert len(parts) >= 3  # the stored part and two sequence parts
    truth = Truth()
    pg = connection.connection
    assert pg.prepare_threshold is not None and pg.prepare_threshold < 8
    for query in clustered(rng, 8, topics):
        found = EvaluationEvent.objects.similar(query, k=5)
        assert len({e.pk for e in found} & truth.nearest(query, 5)) >= 4
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%ORDER BY embedding <=> $1%"],
        )
        ((name, generic_plans, custom_plans),) = cursor.fetchall()
        assert generic_plans >= 1 and custom_plans == 0
        with connection.cursor() as explain:  # the plan it keeps, under the settings the search runs with
            explain.execute("BEGIN")
            explain.execute("SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_sort = off")
            vector = "[" + ",".join(map(str, clustered(rng, 1, topics)[0])) + "]"
            explain.execute(f"EXPLAIN (COSTS OFF) EXECUTE {name}(%s::vector, 5)", [vector])
            plan = "\n".join(row[0] for row in explain.fetchall())
            explain.execute("ROLLBACK")
    for part in parts:
        assert f"Index Scan using {part.index_name} " in plan


def test_inside_the_callers_transaction_the_search_settings_end_with_the_search():
    """SET LOCAL lasts until the transaction ends: in a caller's transaction the search runs in a savepoint it rolls
    back, so the caller's later statements keep their own settings (enable_sort=off would change their plans), and
    a search that fails leaves the caller's transaction usable."""
    rng = np.random.default_rng(12)
    moderator = ModeratorFactory()
    record(moderator.pk, clustered(rng, 60, centres(rng, 3)))
    evaluation_embeddings_fold(lag_seconds=0)
    query = clustered(rng, 1, centres(rng, 1))[0]
    outside = [event.pk for event in EvaluationEvent.objects.similar(query, k=5)]
    searched = ("enable_sort", "hnsw.ef_search", "plan_cache_mode", "hnsw.iterative_scan")

    def current() -> tuple:
        with connection.cursor() as cursor:
            cursor.execute("SELECT " + ", ".join(["current_setting(%s, true)"] * len(searched)), searched)
            return cursor.fetchone()

    with transaction.atomic():
        before = current()
        assert before[0] == "on"
        strategies = ("hnsw", "iterative", "exact") if has_iterative_scan(connection.connection) else ("hnsw", "exact")
        for strategy in strategies:
            found = EvaluationEvent.objects.similar(query, k=5, strategy=strategy)
            assert current() == before
        assert [event.pk for event in found] == outside
        with pytest.raises(psycopg.errors.InvalidRowCountInLimitClause):
            search(connection.connection, query, -1, Filters(), "hnsw")  # LIMIT -1: refused by the server
        assert current() == before
        assert EvaluationEvent.objects.filter(moderator=moderator).count() == 60  # the transaction goes on
