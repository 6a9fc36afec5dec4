import pytest
from django.core.exceptions import ValidationError
from django.db import DataError, connection, transaction

from moderation.models import EMBEDDING_DIMENSIONS, EvaluationEvent, PartKind, VectorIndexPart
from moderation.services import evaluation_embeddings_fold
from moderation.similar import Filters, explain
from tests.factories import EvaluationEventFactory, ModeratorFactory


def unit_vector(index: int) -> list[float]:
    vector = [0.0] * EMBEDDING_DIMENSIONS
    vector[index] = 1.0
    return vector


@pytest.mark.django_db
def test_vector_round_trip():
    vector = [round(i / EMBEDDING_DIMENSIONS, 4) for i in range(EMBEDDING_DIMENSIONS)]
    event = EvaluationEventFactory(embedding=vector)
    assert list(EvaluationEvent.objects.get(pk=event.pk).embedding) == pytest.approx(vector, abs=1e-6)


@pytest.mark.django_db
def test_wrong_dimensions_are_refused_by_full_clean_and_by_the_database():
    event = EvaluationEventFactory.build(moderator=ModeratorFactory(), embedding=[0.1, 0.2, 0.3])
    with pytest.raises(ValidationError, match=f"{EMBEDDING_DIMENSIONS} dimensions, not 3"):
        event.full_clean()
    with pytest.raises(DataError, match="dimensions"), transaction.atomic():
        event.save()


@pytest.mark.django_db
def test_nearest_returns_neighbours_by_cosine_distance():
    moderator = ModeratorFactory()
    near = EvaluationEventFactory(moderator=moderator, embedding=[1.0, 0.1] + [0.0] * (EMBEDDING_DIMENSIONS - 2))
    far = EvaluationEventFactory(moderator=moderator, embedding=unit_vector(5))
    EvaluationEventFactory(moderator=moderator, embedding=None)
    found = list(EvaluationEvent.objects.nearest(unit_vector(0), limit=2))
    assert found == [near, far]
    assert found[0].distance < found[1].distance


@pytest.mark.django_db(transaction=True)
def test_similar_content_scans_each_folded_part_through_its_hnsw_index():
    moderator = ModeratorFactory()
    EvaluationEvent.objects.bulk_create(
        EvaluationEventFactory.build(moderator=moderator, embedding=unit_vector(i % 50)) for i in range(200)
    )
    evaluation_embeddings_fold(lag_seconds=0)
    part = VectorIndexPart.objects.filter(kind=PartKind.SEQUENCE).order_by("-seq_high").first()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE evaluation_events")
    # A 200-row table is cheaper to scan; the point is that the part's index can serve the query.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; SET LOCAL enable_sort = off")
        plan = explain(connection.connection, unit_vector(3), 5, Filters(), strategy="hnsw")
    assert part.index_name in plan, plan


@pytest.mark.django_db
def test_a_row_that_fits_a_page_is_stored_without_compression_and_a_larger_one_is_compressed():
    # Migration 0023: a row with a 4 KB embedding is over the default 2 KB at which PostgreSQL runs the
    # compressor on it (the floats never compress); under the page size it is now stored as it comes.
    moderator = ModeratorFactory()
    fits = EvaluationEventFactory(moderator=moderator, embedding=unit_vector(1), context={"content": "spam " * 300})
    too_big = EvaluationEventFactory(moderator=moderator, embedding=unit_vector(2), context={"content": "spam " * 3000})
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT event_id, pg_column_compression(context), pg_column_compression(embedding) "
            "FROM evaluation_events WHERE event_id IN (%s, %s)",
            [fits.pk, too_big.pk],
        )
        stored = {event_id: (context, embedding) for event_id, context, embedding in cursor.fetchall()}
    assert stored[fits.pk] == (None, None)
    assert stored[too_big.pk][0] is not None  # 15 KB of context: compressed, as before
    assert EvaluationEvent.objects.get(pk=fits.pk).context == {"content": "spam " * 300}
