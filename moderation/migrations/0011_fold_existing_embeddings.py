import time
import uuid

from django.db import migrations
from django.utils import timezone


def build_first_part(apps, schema_editor):
    """One HNSW part over every row stored so far, before 0012 drops the table-wide index: no moment without one.

    The same statement as moderation.vector_index (a migration imports no app code). The migrate session's
    maintenance_work_mem and parallel workers apply.
    """
    parts = apps.get_model("moderation", "VectorIndexPart").objects.using(schema_editor.connection.alias)
    if parts.exists():
        return
    low = uuid.UUID(int=0)
    high = uuid.UUID(int=int(timezone.now().timestamp() * 1000) << 80 | 0x7 << 76)  # smallest key of this ms
    name = f"evaluation_emb_{uuid.uuid4().hex[:12]}"
    started = time.monotonic()
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f'CREATE INDEX CONCURRENTLY "{name}" ON evaluation_events USING hnsw (embedding vector_cosine_ops) '
            f"WHERE event_id >= '{low}' AND event_id < '{high}'"
        )
        seconds = time.monotonic() - started
        cursor.execute("SELECT count(*) FROM evaluation_events WHERE event_id < %s AND embedding IS NOT NULL", [high])
        rows = cursor.fetchone()[0]
    parts.create(index_name=name, low=low, high=high, rows=rows, build_seconds=seconds)


def drop_every_part(apps, schema_editor):
    """Every part fold_embeddings built since, not only the first: their ranges only mean something with 0010's list."""
    parts = apps.get_model("moderation", "VectorIndexPart").objects.using(schema_editor.connection.alias)
    for part in parts.all():
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{part.index_name}"')
        part.delete()


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY

    dependencies = [
        ("moderation", "0010_vector_index_parts"),
    ]

    operations = [
        migrations.RunPython(build_first_part, reverse_code=drop_every_part, atomic=False),
    ]
