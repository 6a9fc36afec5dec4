import time
import uuid

from django.db import migrations
from django.utils import timezone

# moderation.vector_index's fold lock (a migration imports no app code): no fold builds a part meanwhile.
FOLD_LOCK_KEY = int.from_bytes(b"govafold", "big", signed=True)
NIL = uuid.UUID(int=0)


def _build(schema_editor, predicate: str) -> tuple[str, int, float]:
    """A part index over the rows matching `predicate`, built concurrently with the migrate session's maintenance
    settings, as moderation.vector_index builds them; returns its name, its rows with an embedding and the time."""
    name = f"evaluation_emb_{uuid.uuid4().hex[:12]}"
    started = time.monotonic()
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f'CREATE INDEX CONCURRENTLY "{name}" ON evaluation_events USING hnsw (embedding vector_cosine_ops) '
            f"WHERE {predicate}"
        )
        seconds = time.monotonic() - started
        cursor.execute(f"SELECT count(*) FROM evaluation_events WHERE {predicate} AND embedding IS NOT NULL")
        return name, cursor.fetchone()[0], seconds


def _replace_parts(apps, schema_editor, keep_kind: str, build) -> None:
    """Register a part of `keep_kind` (made by `build`) unless one is, then drop the parts of every other kind:
    searches always have a graph over the rows. Re-running after an interruption finishes the job."""
    parts = apps.get_model("moderation", "VectorIndexPart").objects.using(schema_editor.connection.alias)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [FOLD_LOCK_KEY])
    try:
        if not parts.filter(kind=keep_kind).exists():
            build(parts)
        for part in parts.exclude(kind=keep_kind):
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{part.index_name}"')
            part.delete()
    finally:
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [FOLD_LOCK_KEY])


def build_stored_part(apps, schema_editor):
    """One part over every row stored before 0029 (fold_seq IS NULL), in place of the key-range parts, whose
    ranges would take a row inserted now into their graph when its key falls in them (a uuid4 key below today's
    keys). No row gets a NULL fold_seq any more (unless a writer sets it so), so no insert reaches this one."""

    def build(parts):
        name, rows, seconds = _build(schema_editor, "fold_seq IS NULL")
        parts.create(kind="stored", index_name=name, rows=rows, build_seconds=seconds)

    _replace_parts(apps, schema_editor, "stored", build)


def build_key_range_part(apps, schema_editor):
    """Back to one key-range part over every key below the current millisecond (as 0011 built it), which the code
    before 0029 reads; the stored and sequence parts go."""

    def build(parts):
        high = uuid.UUID(int=int(timezone.now().timestamp() * 1000) << 80 | 0x7 << 76)  # smallest key of this ms
        name, rows, seconds = _build(schema_editor, f"event_id >= '{NIL}' AND event_id < '{high}'")
        parts.create(kind="key_range", index_name=name, low=NIL, high=high, rows=rows, build_seconds=seconds)

    _replace_parts(apps, schema_editor, "key_range", build)


class Migration(migrations.Migration):
    """The rows stored before the insertion sequence get one HNSW part of their own; the key-range parts go.

    Builds over every stored row with an embedding, as 0011 did (minutes at a million; writes go on meanwhile).
    """

    atomic = False  # CREATE INDEX CONCURRENTLY

    dependencies = [
        ("moderation", "0031_vectorindexpart_sequence_bounds"),
    ]

    operations = [
        migrations.RunPython(build_stored_part, reverse_code=build_key_range_part, atomic=False),
    ]
