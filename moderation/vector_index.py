"""Similar content without graph maintenance on the write path: HNSW indexes over key ranges, and an exact tail.

Inserting a row into an HNSW graph costs ~7 ms at 1024 dimensions, which held every writer to 70-142 rows/s.
Here no insert touches a graph. `evaluation_events` has one partial HNSW index per *part*, a range of keys
[low, high) listed in `evaluation_vector_index_parts`; parts are contiguous from the nil UUID. Keys are uuidv7,
so they grow with time and new rows land at or above the last part's `high`: the *tail*, covered by no graph.

Folding (`python manage.py fold_embeddings`, from cron or a loop) builds one new part over the tail up to
`now - lag` with CREATE INDEX CONCURRENTLY, in bulk, with the migration maintenance settings; when there are more
than `max_parts` parts, the two adjacent ones with the fewest rows are rebuilt as one (and the old two dropped).

Search (`EvaluationEvent.objects.similar`) runs, in one statement (one snapshot), an HNSW scan per part and an
exact scan of the tail, and merges them by distance. Guarantee: a row is visible to similar-content search as soon
as its transaction commits, whether it has been folded or not; folding never changes which rows a search sees,
only how they are found. A row whose key falls in an already built part (a writer whose clock lags, a key supplied
by hand) is inserted into that part's graph by PostgreSQL: still found, just not cheap to write.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from moderation.models import VectorIndexPart

NIL = uuid.UUID(int=0)
# One fold at a time per database: two concurrent builds over the same tail would register overlapping parts.
FOLD_LOCK_KEY = int.from_bytes(b"govafold", "big", signed=True)
DEFAULT_LAG_SECONDS = 60.0
DEFAULT_MAX_PARTS = 4
PART_PREFIX = "evaluation_emb_"  # + 12 hex digits; the migration that built the first part names it the same way


def key_bound(moment) -> uuid.UUID:
    """The smallest uuidv7 of `moment`'s millisecond: every key made earlier sorts below it."""
    unix_ms = int(moment.timestamp() * 1000)
    return uuid.UUID(int=unix_ms << 80 | 0x7 << 76)


def index_sql(name: str, low: uuid.UUID, high: uuid.UUID) -> sql.Composed:
    # Bounds are literals, not parameters: the planner matches a query to a partial index only by constants
    # (moderation.similar.range_condition writes a search's bounds the same way).
    return sql.SQL(
        "CREATE INDEX CONCURRENTLY {} ON evaluation_events USING hnsw (embedding vector_cosine_ops) "
        "WHERE event_id >= {} AND event_id < {}"
    ).format(sql.Identifier(name), sql.Literal(str(low)), sql.Literal(str(high)))


# -- folding -----------------------------------------------------------------------------------------------------


@dataclass
class FoldReport:
    built: VectorIndexPart | None
    merged: list[VectorIndexPart]
    seconds: float

    def __str__(self) -> str:
        if self.built is None:
            return "nothing to fold: the tail is empty or younger than the lag"
        lines = [f"folded {self.built.rows:,} rows into {self.built.index_name} in {self.built.build_seconds:.1f} s"]
        lines += [
            f"merged into {part.index_name}: {part.rows:,} rows in {part.build_seconds:.1f} s" for part in self.merged
        ]
        return "\n".join(lines)


class FoldBusy(Exception):
    pass


def fold(*, lag_seconds: float = DEFAULT_LAG_SECONDS, max_parts: int = DEFAULT_MAX_PARTS) -> FoldReport:
    """Build a part over the tail's rows older than lag_seconds; then merge parts down to max_parts."""
    if connection.in_atomic_block:
        raise RuntimeError("fold runs CREATE INDEX CONCURRENTLY: call it outside any transaction")
    if max_parts < 1:
        raise ValueError("max_parts must be at least 1")
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [FOLD_LOCK_KEY])
        if not cursor.fetchone()[0]:
            raise FoldBusy("another fold_embeddings is running on this database; nothing was done")
    try:
        _drop_orphans()
        with _maintenance_settings():
            last = VectorIndexPart.objects.order_by("-high").first()
            low = last.high if last else NIL
            high = key_bound(timezone.now() - timedelta(seconds=lag_seconds))
            built = _build_part(low, high) if high > low and _has_embeddings(low, high) else None
            merged = []
            while built is not None and VectorIndexPart.objects.count() > max_parts:
                merged.append(_merge_smallest_neighbours())
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [FOLD_LOCK_KEY])
    return FoldReport(built, merged, time.monotonic() - started)


class _maintenance_settings:
    """The memory and parallel workers migrations build indexes with (an HNSW build in memory is many times faster)."""

    def __enter__(self):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('maintenance_work_mem', %s, false), "
                "set_config('max_parallel_maintenance_workers', %s, false)",
                [settings.GOVA_MIGRATION_MAINTENANCE_WORK_MEM, str(settings.GOVA_MIGRATION_MAINTENANCE_WORKERS)],
            )

    def __exit__(self, *exc_info):
        with connection.cursor() as cursor:
            cursor.execute("RESET maintenance_work_mem; RESET max_parallel_maintenance_workers")


def _has_embeddings(low: uuid.UUID, high: uuid.UUID) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM evaluation_events WHERE event_id >= %s AND event_id < %s "
            "AND embedding IS NOT NULL)",
            [low, high],
        )
        return cursor.fetchone()[0]


def _build_index(low: uuid.UUID, high: uuid.UUID) -> tuple[str, int, float]:
    part_id = uuid.uuid4()
    name = f"{PART_PREFIX}{part_id.hex[:12]}"
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute(index_sql(name, low, high).as_string(connection.connection))
    except BaseException:
        # A failed concurrent build leaves an invalid index behind: no query uses it, every insert maintains it.
        _drop_index(name)
        raise
    seconds = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM evaluation_events WHERE event_id >= %s AND event_id < %s AND embedding IS NOT NULL",
            [low, high],
        )
        rows = cursor.fetchone()[0]
    return name, rows, seconds


def _build_part(low: uuid.UUID, high: uuid.UUID) -> VectorIndexPart:
    name, rows, seconds = _build_index(low, high)
    # Registered only once valid: until then searches treat the range as tail and scan it exactly.
    return VectorIndexPart.objects.create(index_name=name, low=low, high=high, rows=rows, build_seconds=seconds)


def _merge_smallest_neighbours() -> VectorIndexPart:
    parts = list(VectorIndexPart.objects.order_by("low"))
    first = min(range(len(parts) - 1), key=lambda i: parts[i].rows + parts[i + 1].rows)
    older, newer = parts[first], parts[first + 1]
    name, rows, seconds = _build_index(older.low, newer.high)
    with transaction.atomic():
        VectorIndexPart.objects.filter(pk__in=[older.pk, newer.pk]).delete()
        merged = VectorIndexPart.objects.create(
            index_name=name, low=older.low, high=newer.high, rows=rows, build_seconds=seconds
        )
    # A search that read the old list a moment ago still gets right answers: without its index the planner
    # scans the range exactly.
    _drop_index(older.index_name)
    _drop_index(newer.index_name)
    return merged


def _drop_orphans() -> None:
    """Part indexes no registration names: a fold that died between build and registration, or a flushed list.

    Only called under the fold lock, so no other fold's unregistered index is in the middle of its build.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'evaluation_events' AND starts_with(indexname, %s) "
            "AND indexname NOT IN (SELECT index_name FROM evaluation_vector_index_parts)",
            [PART_PREFIX],
        )
        orphans = [name for (name,) in cursor.fetchall()]
    for name in orphans:
        _drop_index(name)


def _drop_index(name: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}")
            .format(sql.Identifier(name))
            .as_string(connection.connection)
        )


def pending_rows() -> int:
    """Rows with an embedding in the tail (not yet folded)."""
    last = VectorIndexPart.objects.order_by("-high").first()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM evaluation_events WHERE event_id >= %s AND embedding IS NOT NULL",
            [last.high if last else NIL],
        )
        return cursor.fetchone()[0]
