"""Similar content: the k evaluations nearest by cosine distance, with a strategy chosen per query.

Strategies (see `plan`):
    hnsw       no filter: each part's HNSW graph (hnsw.ef_search = EF_SEARCH) plus the exact tail, merged (the
               branches, `branch_conditions`, take every row exactly once: moderation.vector_index);
    iterative  a moderator or time filter that matches many rows, pgvector >= 0.8: the same, with
               hnsw.iterative_scan = relaxed_order so a graph scan goes on until k rows pass the filter;
               relaxed order may return rows slightly out of order, so every branch keeps 2k rows and the
               merged result is sorted again by distance;
    exact      a filter matching at most EXACT_MAX_ROWS rows (by the planner's estimate), or any filter on
               pgvector < 0.8 (PostgreSQL 16's 0.6 has no iterative scan: a graph scan filtered afterwards
               finds 2.8 of 10 rows for a moderator with 5% of the table): distances over the matching rows,
               found through evaluation_mod_created_key_idx.
Every statement of a search runs in one transaction with SET LOCAL settings (in a caller's transaction, in a
savepoint rolled back afterwards, so the settings end with the search); the search itself is one statement,
so it sees one snapshot: a committed row is found whether or not it has been folded into a graph.
A graph scan that returns fewer than k rows while more exist is repeated exactly: never fewer rows than exist.

The module finds keys and distances and reads no models: EvaluationEvent.objects.similar loads the rows, so the
models depend on this module and never the other way round.
"""

import contextlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import numpy as np
import psycopg
from django.db import connection
from psycopg import sql
from psycopg.pq import TransactionStatus

from moderation.vectors import EMBEDDING_DIMENSIONS, vector_cursor

# Candidates per graph scan. Measured on a 200k x 1024-d part of clustered data (256 topics), warm, recall@10
# against exact search over the part: ef_search 40 (pgvector's default) 0.83; 100 0.88 in 2.9 ms; 200 0.94 in
# 3.1 ms; 400 0.965 in 3.5 ms; 600 0.99 in 6.9 ms. A tight cluster the greedy descent misses costs a whole query
# its recall; a wider candidate list is what finds it, and costs little until ~500.
EF_SEARCH = 400
# With a filter, the iterative scan's first candidate list: recall@10 0.965-0.975 for a moderator with 5% or
# 0.8% of the rows at 200-300, with no measurable change in time (the scan goes on until enough rows pass).
EF_SEARCH_FILTERED = 300
# How many tuples an iterative scan may visit before it gives up (pgvector's default is 20,000).
MAX_SCAN_TUPLES = 100_000
# Up to this many matching rows (the planner's estimate) a filtered search is exact: recall 1.00, and with the
# embeddings stored in the row (migration 0019) 3.6 ms for 1,601 rows and 26.7 ms for 13,981, where an iterative
# graph scan took 10-22 ms at recall 0.955-0.965 for the smaller. Rows written before 0019 keep their vectors
# out of line and cost ~3x as much each.
EXACT_MAX_ROWS = 4_000
# Inside a caller's transaction a search runs in this savepoint, rolled back afterwards (see _run).
SEARCH_SAVEPOINT = "gova_similar_search"


@dataclass(frozen=True)
class Filters:
    moderator_id: uuid.UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    exclude_event_id: uuid.UUID | None = None

    @property
    def selective(self) -> bool:
        return self.moderator_id is not None or self.since is not None or self.until is not None

    def params(self) -> dict:
        """The values of the filters set, by their placeholders' names in FILTER_CLAUSES."""
        values = [
            ("moderator_id", self.moderator_id),
            ("since", self.since),
            ("until", self.until),
            ("exclude", self.exclude_event_id),
        ]
        return {name: value for name, value in values if value is not None}

    def where(self) -> tuple[sql.Composable, dict]:
        params = self.params()
        return where_clause(frozenset(params)), params


FILTER_CLAUSES = {
    "moderator_id": "moderator_id = %(moderator_id)s",
    "since": "created_at >= %(since)s",
    "until": "created_at < %(until)s",
    "exclude": "event_id <> %(exclude)s",
}


# The insertion sequence: evaluation_events.fold_seq's default draws from it (migration 0029).
FOLD_SEQUENCE = "evaluation_events_fold_seq"
# The rows stored before the insertion sequence existed: the predicate of the stored part.
STORED_CONDITION = sql.SQL("fold_seq IS NULL")


def range_condition(low: int | None, high: int | None) -> sql.Composed:
    """fold_seq in [low, high): a sequence part's predicate (low None: unbounded below), or the tail from low (high
    None). Bounds are literals: the planner matches a query to a partial index only by constants, so the index
    (moderation.vector_index.index_sql) and a search's branch are written by this one function."""
    bounds = []
    if low is not None:
        bounds.append(sql.SQL("fold_seq >= {}::bigint").format(sql.Literal(int(low))))
    if high is not None:
        bounds.append(sql.SQL("fold_seq < {}::bigint").format(sql.Literal(int(high))))
    return sql.SQL(" AND ").join(bounds) if bounds else sql.SQL("fold_seq IS NOT NULL")


def branch_conditions(parts: tuple) -> list[tuple[sql.Composable, bool]]:
    """[(condition, has a graph)] for the stored part, each sequence part ((low, high), in order) and the tail:
    every row is in exactly one (fold_seq NULL, in a part's range, or at or above the last part's high)."""
    branches = [(STORED_CONDITION, True)] + [(range_condition(low, high), True) for low, high in parts]
    branches.append((range_condition(parts[-1][1] if parts else None, None), False))
    return branches


def where_clause(filtered: frozenset) -> sql.Composable:
    """The WHERE clause for the filters named in `filtered` (keys of FILTER_CLAUSES), values as placeholders."""
    clauses = ["embedding IS NOT NULL"] + [clause for name, clause in FILTER_CLAUSES.items() if name in filtered]
    return sql.SQL(" AND ".join(clauses))


@dataclass(frozen=True)
class Plan:
    strategy: str  # "hnsw", "iterative" or "exact"
    estimated_rows: int | None
    parts: tuple = ()


class UnknownEvaluation(LookupError):
    """No evaluation has the key given as to_event_id."""


def neighbours(
    embedding=None,
    *,
    to_event_id: uuid.UUID | str | None = None,
    k: int = 10,
    moderator_id=None,
    since: datetime | None = None,
    until: datetime | None = None,
    strategy: str | None = None,
) -> list[tuple[uuid.UUID, float]]:
    """[(event_id, distance)] of the k nearest evaluations by cosine distance, nearest first, on Django's connection
    (EvaluationEvent.objects.similar loads them as models).

    Give a vector, or `to_event_id` (its stored embedding; that evaluation excluded; UnknownEvaluation when there
    is none). `strategy` overrides the choice (the benchmark compares them); None picks one per query.
    """
    if (embedding is None) == (to_event_id is None):
        raise ValueError("give either an embedding or to_event")
    if not 1 <= k <= 1000:
        raise ValueError("k must be between 1 and 1000")
    filters = Filters(
        moderator_id=uuid.UUID(str(moderator_id)) if moderator_id is not None else None, since=since, until=until
    )
    connection.ensure_connection()
    pg = connection.connection
    if to_event_id is not None:
        event_id = uuid.UUID(str(to_event_id))
        embedding = _stored_embedding(pg, event_id)
        filters = Filters(filters.moderator_id, since, until, exclude_event_id=event_id)
    query = np.asarray(embedding, dtype=np.float32)
    if query.shape != (EMBEDDING_DIMENSIONS,) or not np.isfinite(query).all():
        raise ValueError(f"the query vector must have {EMBEDDING_DIMENSIONS} finite values")
    return search(pg, query, k, filters, strategy)


def search(pg, query: np.ndarray, k: int, filters: Filters, strategy: str | None = None) -> list[tuple]:
    """[(event_id, distance)] nearest first, without loading models: two round trips (plan, search) at most."""
    chosen = plan(pg, filters, strategy)
    found = _run(pg, query, k, filters, chosen)
    if len(found) < k and chosen.strategy != "exact" and _exists_more(pg, filters, len(found)):
        found = _run(pg, query, k, filters, Plan("exact", chosen.estimated_rows))
    return found


PARTS_SQL = "SELECT seq_low, seq_high FROM evaluation_vector_index_parts WHERE kind = 'sequence' ORDER BY seq_high"


def plan(pg, filters: Filters, strategy: str | None = None) -> Plan:
    """The strategy for this query; the part list and the planner's row estimate come in one round trip.

    Only the parts' ranges are used, never their index names: if a fold merges parts meanwhile, the branches
    still cover every row, and a branch whose index is gone is scanned exactly by the planner.
    """
    if strategy not in (None, "hnsw", "iterative", "exact"):
        raise ValueError(f"unknown strategy {strategy!r}")
    estimate = strategy is None and filters.selective
    parts_cursor, estimate_cursor = psycopg.Cursor(pg), psycopg.Cursor(pg)
    with pg.pipeline():
        parts_cursor.execute(PARTS_SQL)
        if estimate:
            where, params = filters.where()
            statement = sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM evaluation_events WHERE {}").format(where)
            estimate_cursor.execute(statement, params)
    parts = tuple(parts_cursor.fetchall())
    if strategy is not None:
        return Plan(strategy, None, parts)
    if not estimate:
        return Plan("hnsw", None, parts)
    # The planner's estimate: most common moderators and histograms from ANALYZE, ~0.2 ms.
    estimated = int(estimate_cursor.fetchone()[0][0]["Plan"]["Plan Rows"])
    if estimated <= EXACT_MAX_ROWS or not has_iterative_scan(pg):
        return Plan("exact", estimated)
    return Plan("iterative", estimated, parts)


def has_iterative_scan(pg) -> bool:
    version = getattr(pg, "_gova_pgvector_version", None)
    if version is None:
        row = psycopg.Cursor(pg).execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        version = pg._gova_pgvector_version = tuple(int(part) for part in row[0].split(".")[:2])
    return version >= (0, 8)


def _run(pg, query: np.ndarray, k: int, filters: Filters, chosen: Plan, *, explain: bool = False) -> list[tuple]:
    params = filters.params()
    statement, settings = _statement(chosen.strategy, chosen.parts, frozenset(params))
    params.update(query=query, k=k, wide=2 * k)
    if explain:
        statement = b"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement
    # Settings are transaction-local (SET LOCAL). Outside a transaction the search opens and commits its own, in
    # the same round trip. Inside the caller's it runs in a savepoint that it rolls back once its rows are in (it
    # writes nothing): the caller's later statements run under the caller's settings (enable_sort=off would have
    # changed their plans), and a failed search leaves the caller's transaction usable.
    own_transaction = bool(settings) and pg.autocommit and pg.info.transaction_status == TransactionStatus.IDLE
    in_savepoint = bool(settings) and not own_transaction
    cursor = vector_cursor(pg)
    try:
        with pg.pipeline():
            if own_transaction:
                psycopg.Cursor(pg).execute("BEGIN")
            elif in_savepoint:
                psycopg.Cursor(pg).execute(f"SAVEPOINT {SEARCH_SAVEPOINT}")
            if settings:
                assignments = ", ".join(["set_config(%s, %s, true)"] * len(settings))
                psycopg.Cursor(pg).execute(f"SELECT {assignments}", [part for pair in settings for part in pair])
            cursor.execute(statement, params)
            if own_transaction:
                psycopg.Cursor(pg).execute("COMMIT")
            elif in_savepoint:
                _leave_savepoint(pg)
    except BaseException:
        if own_transaction and pg.info.transaction_status != TransactionStatus.IDLE:
            psycopg.Cursor(pg).execute("ROLLBACK")
        elif in_savepoint and pg.info.transaction_status == TransactionStatus.INERROR:
            with contextlib.suppress(psycopg.Error):  # a lost connection: the search's own error says more
                _leave_savepoint(pg)
        raise
    return cursor.fetchall()


def _leave_savepoint(pg) -> None:
    """Undo the search's settings (rolling back to the savepoint) and drop the savepoint."""
    psycopg.Cursor(pg).execute(f"ROLLBACK TO SAVEPOINT {SEARCH_SAVEPOINT}")
    psycopg.Cursor(pg).execute(f"RELEASE SAVEPOINT {SEARCH_SAVEPOINT}")


def explain(pg, query, k: int, filters: Filters, strategy: str | None = None) -> str:
    """EXPLAIN ANALYZE of the search statement the chosen strategy runs (tests and the benchmark read it)."""
    chosen = plan(pg, filters, strategy)
    rows = _run(pg, np.asarray(query, dtype=np.float32), k, filters, chosen, explain=True)
    return f"strategy: {chosen.strategy}\n" + "\n".join(row[0] for row in rows)


@lru_cache(maxsize=64)
def _statement(strategy: str, parts: tuple, filtered: frozenset) -> tuple[bytes, tuple]:
    """The search statement and its settings for a strategy, the parts' ranges and which filters are set.

    Cached: the text is the same for every query until a fold changes the parts (composing it took ~0.2 ms), and
    the same text is what psycopg prepares after a few runs (GOVA_DB_PREPARE_THRESHOLD).
    """
    where = where_clause(filtered)
    settings = []
    if strategy == "exact":
        branches = [(where, "k")]
    else:
        settings.append(("hnsw.ef_search", str(EF_SEARCH if strategy == "hnsw" else EF_SEARCH_FILTERED)))
        # Every part is read through its graph. Until ANALYZE has seen a new part's rows the planner believes
        # its range empty and would sort it exactly instead (27 ms for a part of 3,809 rows, 1.5 ms by graph);
        # the tail, which has no graph, is still sorted.
        settings.append(("enable_sort", "off"))
        if strategy == "hnsw":
            # No filter, so no value the plan could depend on: once prepared, the statement keeps one plan
            # instead of planning each query again (~0.4 ms of a 4-5 ms search over 200k x 1024-d).
            settings.append(("plan_cache_mode", "force_generic_plan"))
        if strategy == "iterative":
            settings += [("hnsw.iterative_scan", "relaxed_order"), ("hnsw.max_scan_tuples", str(MAX_SCAN_TUPLES))]
        # An iterative branch keeps 2k rows ("wide"): slack for rows a relaxed scan returns out of order.
        branch_limit = "wide" if strategy == "iterative" else "k"
        branches = [
            (sql.SQL("{} AND {}").format(where, condition), branch_limit if graph else "k")
            for condition, graph in branch_conditions(parts)
        ]
    union = sql.SQL(" UNION ALL ").join(
        sql.SQL(
            "(SELECT event_id, embedding <=> %(query)b AS distance FROM evaluation_events WHERE {} "
            "ORDER BY embedding <=> %(query)b LIMIT {})"
        ).format(condition, sql.Placeholder(limit))
        for condition, limit in branches
    )
    # MATERIALIZED: every branch runs to its LIMIT before the merge sorts them. Without it the planner merges the
    # branches as already ordered streams and stops after k rows, which a relaxed-order scan does not guarantee.
    statement = sql.SQL(
        "WITH found AS MATERIALIZED ({}) SELECT event_id, distance FROM found ORDER BY distance, event_id LIMIT %(k)s"
    ).format(union)
    return statement.as_bytes(None), tuple(settings)


def _exists_more(pg, filters: Filters, found: int) -> bool:
    where, params = filters.where()
    statement = sql.SQL("SELECT count(*) FROM (SELECT 1 FROM evaluation_events WHERE {} LIMIT %(n)s) matching").format(
        where
    )
    (count,) = psycopg.Cursor(pg).execute(statement, {**params, "n": found + 1}).fetchone()
    return count > found


def _stored_embedding(pg, event_id: uuid.UUID) -> np.ndarray:
    cursor = vector_cursor(pg)
    row = cursor.execute("SELECT embedding FROM evaluation_events WHERE event_id = %s", [event_id]).fetchone()
    if row is None:
        raise UnknownEvaluation(f"no evaluation {event_id}")
    if row[0] is None:
        raise ValueError(f"evaluation {event_id} has no embedding")
    return row[0].to_numpy()
