"""Similar content without graph maintenance on the write path: HNSW indexes over ranges of the insertion order,
and an exact tail.

Inserting a row into an HNSW graph costs ~7 ms at 1024 dimensions, which held every writer to 70-142 rows/s.
Here no insert touches a graph. Every row takes the next number of a sequence as it is inserted
(`evaluation_events.fold_seq`, the column's default: migration 0029), whoever writes it and whatever its key (the
old service's keys are uuid4, random, and say nothing about when a row arrived). `evaluation_events` has one
partial HNSW index per *part*, listed in `evaluation_vector_index_parts`:

    stored     fold_seq IS NULL: the rows stored before the sequence existed (one part, built by migration 0032)
    sequence   fold_seq in [seq_low, seq_high); contiguous, the first one unbounded below

Rows at or above the last sequence part's `seq_high` are the *tail*, covered by no graph. Every row is in exactly
one of them (moderation.similar.branch_conditions writes the predicates, for the indexes and for the search).

Why no insert lands in a built part: a part's `seq_high` is at most the sequence's last value + 1 when the fold
reads it, so a number drawn afterwards is above it (the sequence has no cache, so no session holds back lower
numbers it reserved earlier); a number drawn before belongs to a transaction that holds a lock on the table until
it ends, and CREATE INDEX CONCURRENTLY waits for that transaction before it reads the rows. A late row, a uuid4 key
or a clock that lags change nothing: the number is taken when the row arrives.

Folding (`python manage.py fold_embeddings`, from cron or a loop) builds one new part over the tail up to its first
row younger than the lag by `created_at` (or all of it), with CREATE INDEX CONCURRENTLY, in bulk, with the migration
maintenance settings; when more than `max_parts` parts hold rows (the stored part among them once it does), the
two adjacent sequence parts with the fewest rows are rebuilt as one (and the old two dropped).

Search (`EvaluationEvent.objects.similar`) runs, in one statement (one snapshot), an HNSW scan per part and an
exact scan of the tail, and merges them by distance. Guarantee: a row is visible to similar-content search as soon
as its transaction commits, whether it has been folded or not; folding never changes which rows a search sees,
only how they are found.

Writes that do reach a graph: an UPDATE of a row's embedding takes a new number (a trigger, migration 0034), so the
row leaves its part for the tail and is folded again, in bulk; a writer that sets fold_seq itself lands where its
number says (a restore copies the stored numbers, and rebuilds the indexes after the load): still found, just not
cheap to write.
"""

import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from psycopg import sql

from moderation.models import PartKind, VectorIndexPart
from moderation.similar import FOLD_SEQUENCE, STORED_CONDITION, range_condition

# One fold at a time per database: two concurrent builds over the same tail would register overlapping parts.
FOLD_LOCK_KEY = int.from_bytes(b"govafold", "big", signed=True)
DEFAULT_LAG_SECONDS = 60.0
DEFAULT_MAX_PARTS = 4
PART_PREFIX = "evaluation_emb_"  # + 12 hex digits; the migrations that build parts name them the same way


def index_sql(name: str, condition: sql.Composable) -> sql.Composed:
    return sql.SQL(
        "CREATE INDEX CONCURRENTLY {} ON evaluation_events USING hnsw (embedding vector_cosine_ops) WHERE {}"
    ).format(sql.Identifier(name), condition)


# -- folding -----------------------------------------------------------------------------------------------------


@dataclass
class FoldReport:
    built: VectorIndexPart | None
    merged: list[VectorIndexPart]
    seconds: float
    stored: VectorIndexPart | None = None  # the stored part, when none was registered

    def __str__(self) -> str:
        lines = []
        if self.stored is not None:
            lines.append(
                f"built the part over rows stored before fold_seq: {self.stored.rows:,} rows into "
                f"{self.stored.index_name} in {self.stored.build_seconds:.1f} s"
            )
        if self.built is None:
            lines.append("nothing to fold: the tail has no embedding older than the lag")
        else:
            lines.append(
                f"folded {self.built.rows:,} rows into {self.built.index_name} in {self.built.build_seconds:.1f} s"
            )
        lines += [
            f"merged into {part.index_name}: {part.rows:,} rows in {part.build_seconds:.1f} s" for part in self.merged
        ]
        return "\n".join(lines)


class FoldBusy(Exception):
    pass


def fold(*, lag_seconds: float = DEFAULT_LAG_SECONDS, max_parts: int = DEFAULT_MAX_PARTS) -> FoldReport:
    """Build a part over the tail up to its first row younger than lag_seconds (by created_at); then merge sequence
    parts until at most max_parts parts hold rows (at least one sequence part stays). Also builds the stored part
    if none is registered."""
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
            stored = None
            if not VectorIndexPart.objects.filter(kind=PartKind.STORED).exists():
                stored = _register(PartKind.STORED, *_build_index(STORED_CONDITION))
            last = _sequence_parts().last()
            low = last.seq_high if last else None
            high = _fold_bound(low, lag_seconds)
            built = _build_part(low, high) if (low is None or high > low) and _has_embeddings(low, high) else None
            # Every part a search reads through a graph counts, the stored part too once it holds rows.
            stored_graphs = VectorIndexPart.objects.filter(kind=PartKind.STORED, rows__gt=0).count()
            merged = []
            while built is not None and _sequence_parts().count() > max(1, max_parts - stored_graphs):
                merged.append(_merge_smallest_neighbours())
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [FOLD_LOCK_KEY])
    return FoldReport(built, merged, time.monotonic() - started, stored)


def _sequence_parts():
    return VectorIndexPart.objects.filter(kind=PartKind.SEQUENCE).order_by("seq_high")


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


def _fold_bound(low: int | None, lag_seconds: float) -> int:
    """The high of the next part: the number of the tail's first embedded row younger than the lag, or, when there
    is none, the sequence's next number (every number below it has been drawn)."""
    tail = range_condition(low, None)
    with connection.cursor() as cursor:
        # A writer that set fold_seq itself (a restore of another database's rows) may have stored numbers the
        # sequence has not reached: move the sequence past them, or those rows would stay in the tail until it does.
        cursor.execute(
            sql.SQL(
                "SELECT setval({sequence}, stored) FROM (SELECT max(fold_seq) AS stored FROM evaluation_events "
                "WHERE {tail} AND embedding IS NOT NULL) s, {sequence_table} "
                "WHERE stored > last_value OR (stored = last_value AND NOT is_called)"
            )
            .format(sequence=sql.Literal(FOLD_SEQUENCE), tail=tail, sequence_table=sql.Identifier(FOLD_SEQUENCE))
            .as_string(connection.connection)
        )
        # Younger than the lag, and not dated in the future: a row with a clock ahead (or a typo) would otherwise
        # hold every row after it in the tail until that date.
        cursor.execute(
            sql.SQL(
                "SELECT least("
                "(SELECT min(fold_seq) FROM evaluation_events WHERE {tail} AND embedding IS NOT NULL "
                "AND created_at > now() - make_interval(secs => %s) AND created_at <= now()), "
                "(SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM {sequence_table}))"
            )
            .format(tail=tail, sequence_table=sql.Identifier(FOLD_SEQUENCE))
            .as_string(connection.connection),
            [lag_seconds],
        )
        return cursor.fetchone()[0]


def _has_embeddings(low: int | None, high: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT EXISTS (SELECT 1 FROM evaluation_events WHERE {} AND embedding IS NOT NULL)")
            .format(range_condition(low, high))
            .as_string(connection.connection)
        )
        return cursor.fetchone()[0]


def _build_index(condition: sql.Composable) -> tuple[str, int, float]:
    name = f"{PART_PREFIX}{uuid.uuid4().hex[:12]}"
    started = time.monotonic()
    try:
        with connection.cursor() as cursor:
            cursor.execute(index_sql(name, condition).as_string(connection.connection))
    except BaseException:
        # A failed concurrent build leaves an invalid index behind: no query uses it, every insert maintains it.
        _drop_index(name)
        raise
    seconds = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT count(*) FROM evaluation_events WHERE {} AND embedding IS NOT NULL")
            .format(condition)
            .as_string(connection.connection)
        )
        rows = cursor.fetchone()[0]
    return name, rows, seconds


def _register(kind: str, name: str, rows: int, seconds: float, low=None, high=None) -> VectorIndexPart:
    # Registered only once valid: until then searches scan its rows exactly (the stored branch: through any index
    # whose predicate matches, or the table).
    return VectorIndexPart.objects.create(
        index_name=name, kind=kind, seq_low=low, seq_high=high, rows=rows, build_seconds=seconds
    )


def _build_part(low: int | None, high: int) -> VectorIndexPart:
    return _register(PartKind.SEQUENCE, *_build_index(range_condition(low, high)), low=low, high=high)


def _merge_smallest_neighbours() -> VectorIndexPart:
    parts = list(_sequence_parts())
    first = min(range(len(parts) - 1), key=lambda i: parts[i].rows + parts[i + 1].rows)
    older, newer = parts[first], parts[first + 1]
    name, rows, seconds = _build_index(range_condition(older.seq_low, newer.seq_high))
    with transaction.atomic():
        VectorIndexPart.objects.filter(pk__in=[older.pk, newer.pk]).delete()
        merged = _register(PartKind.SEQUENCE, name, rows, seconds, low=older.seq_low, high=newer.seq_high)
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
    """Rows with an embedding in no part: the tail (and the stored rows while no stored part is registered)."""
    last = _sequence_parts().last()
    waiting = [range_condition(last.seq_high if last else None, None)]
    if not VectorIndexPart.objects.filter(kind=PartKind.STORED).exists():
        waiting.append(STORED_CONDITION)
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT count(*) FROM evaluation_events WHERE ({}) AND embedding IS NOT NULL")
            .format(sql.SQL(") OR (").join(waiting))
            .as_string(connection.connection)
        )
        return cursor.fetchone()[0]
