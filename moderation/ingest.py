"""Evaluation ingest: one round trip per batch, behaviour scores computed set-based, graph maintenance off the path.

The write path runs one way, and each step once, here: validate and encode (Batch), execute, translate server
errors. `record`, `record_stream` and `record_async` send the same statements of a batch (`_batch_statements`) and
differ only in how; `record_one` sends the one-event statement. `moderation.services` is the contract callers use.

A batch is validated in Python (types, score range, embedding width, JSON), then sent as one pipeline:

    BEGIN                                   (only when the caller is not already in a transaction)
    SET CONSTRAINTS <moderator fk> IMMEDIATE   the key is DEFERRABLE INITIALLY DEFERRED: fail now, not at COMMIT
    SELECT pg_advisory_xact_lock(k) ...     one lock per (moderator, platform user), ascending: no deadlocks
    INSERT ... SELECT ... RETURNING         scores for the whole batch: each author's stored window of 100
                                            (evaluation_latest_scores) and the batch's own events, set-based;
                                            the same statement appends the batch to those windows and totals
                                            (the insert trigger of migration 0022 does it when it cannot)
    COMMIT

Concurrency guarantee: two transactions recording events of the same (moderator, platform user) serialise on that
pair's advisory lock; the INSERT runs after the lock is granted, in a statement of its own, so its READ COMMITTED
snapshot contains every event (and window) the other writer committed. Each behaviour score therefore equals the
score a serial run in commit order gives. Locks are taken in ascending key order in a single statement, so two
batches never deadlock each other; a caller holding several batches in one outer transaction gives up that
ordering, and PostgreSQL's deadlock detector then aborts one of them. A hash collision between two pairs only
serialises them.

Every column of a batch travels as one binary array built in one pass (moderation.vectors.BinaryArray, its
dumper registered on our cursor only, as are pgvector's, so the ORM's adapters are untouched), and results come
back in binary. The raw psycopg cursor bypasses Django's query log, so DEBUG=True keeps nothing.
"""

import contextlib
import hashlib
import itertools
import json
import math
import re
import struct
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import numpy as np
import psycopg
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from psycopg.types import TypeInfo

from gova.db import uuid7, uuid7_block
from moderation.vectors import EMBEDDING_DIMENSIONS, BinaryArray, binary_vector_cursor, vector_cursor, vector_info

# A \u0000 escape in JSON text: preceded by an even number of backslashes (an odd one would escape its backslash).
NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
# Rows per round trip for the streaming helpers: 1,000 rows of 1024-d float4 are ~4 MB on the wire and in memory.
DEFAULT_BATCH_SIZE = 1000


@dataclass(frozen=True, slots=True)
class EvaluationInput:
    """One scored chat message to record.

    `created_at` defaults to clock_timestamp() at insert, taken under the author's lock, so an author's events are
    ordered by time exactly as their scores were computed (now(), the transaction's start, is not: a writer that
    waited for the lock would get an earlier time than the writer it waited for).
    """

    moderator_id: uuid.UUID | str
    platform_user_id: str
    severity_score: float
    context: dict
    embedding: Sequence[float] | np.ndarray | None = None
    created_at: datetime | None = None


class RecordedEvaluation(NamedTuple):
    """A recorded event's key, behaviour score and time (a tuple: 1,000 are made per batch)."""

    event_id: uuid.UUID
    behaviour_score: float
    created_at: datetime


LOCK_SQL = "SELECT count(pg_advisory_xact_lock(key)) FROM unnest(%b::int8[]) AS key"

# Scores: each author's last 100 severities and their total are one row of evaluation_latest_scores (hundredths),
# so the history costs one key lookup per author, not 99 index entries and their heap visibility checks (~60 ms of
# a 1,000-row batch at 1M events). Event k of an author in this batch (batch order) averages the batch's events
# 1..k (at most the last 100) with the newest 100 - k stored severities: the stored total, less the oldest one
# when the window is full. Sums are integers, so the mean rounds half up exactly.
#
# The same statement keeps those rows, as the insert trigger (migration 0022) would, from what it has already
# read: the new rows per author in time order, appended to the stored row found by the scoring lookup (updated by
# its ctid, no second index descent), or inserted as a first-time author's window (when no older event exists).
# When every author was kept so, it marks the statement (`gova.latest_scores_kept`: its smallest key and row
# count) and the trigger, finding the mark, returns at once: ~20 ms a batch less. Otherwise (an author whose rows
# are older than its stored latest, a row another writer changed since this statement's snapshot) the trigger
# does all of it, reading again the authors kept here.
INSERT_SQL = """
WITH batch AS (
    -- Contexts arrive as one JSON array (one json.dumps per batch, not per row), zipped by position. The time is
    -- taken here, once per row, under the authors' locks.
    -- The window's size, the hundredths and the rounded mean are the database's functions (migration 0027).
    SELECT event_id, moderator_id, platform_user_id, severity_score, severity_hundredths(severity_score) AS hundredths,
           context, embedding, coalesce(created_at, clock_timestamp()) AS created_at, n
    FROM ROWS FROM (
        unnest(%(event_ids)b::uuid[]), unnest(%(moderators)b::uuid[]), unnest(%(users)b::text[]),
        unnest(%(severities)b::float8[]), jsonb_array_elements(%(contexts)s::jsonb), unnest(%(embeddings)b::vector[]),
        unnest(%(created)b::timestamptz[])
    ) WITH ORDINALITY AS b(event_id, moderator_id, platform_user_id, severity_score, context, embedding, created_at, n)
),
ranked AS (
    SELECT n, event_id, moderator_id, platform_user_id, hundredths, created_at,
           row_number() OVER author AS k,
           sum(hundredths) OVER (author ROWS BETWEEN behaviour_window() - 1 PRECEDING AND CURRENT ROW) AS batch_sum
    FROM batch
    WINDOW author AS (PARTITION BY moderator_id, platform_user_id ORDER BY n)
),
scored AS (
    SELECT r.n, r.event_id, r.moderator_id, r.platform_user_id, r.hundredths, r.created_at,
        behaviour_score_mean(r.batch_sum + CASE
            WHEN w.keep = 0 THEN 0
            WHEN w.keep = w.stored THEN l.recent_total
            WHEN w.keep = w.stored - 1 THEN l.recent_total - l.recent_severities[1]  -- a full window's oldest leaves
            ELSE (SELECT sum(x) FROM unnest(l.recent_severities[w.stored - w.keep + 1:]) x)
        END, least(r.k, behaviour_window()) + w.keep) AS behaviour_score,
        l.ctid AS stored_ctid, l.created_at AS stored_created_at, l.event_id AS stored_event_id
    FROM ranked r
    -- A key lookup per row (OFFSET 0 keeps the planner from hashing the whole table for ~1,000 authors).
    LEFT JOIN LATERAL (
        SELECT ctid, created_at, event_id, recent_severities, recent_total FROM evaluation_latest_scores l
        WHERE l.moderator_id = r.moderator_id AND l.platform_user_id = r.platform_user_id OFFSET 0
    ) l ON true
    -- Event k of the author in this batch counts the newest 100 - k stored severities (none from k = 100 on).
    CROSS JOIN LATERAL (
        SELECT coalesce(cardinality(l.recent_severities), 0) AS stored,
               greatest(0, least(coalesce(cardinality(l.recent_severities), 0), behaviour_window() - r.k)) AS keep
    ) w
),
inserted AS (
    INSERT INTO evaluation_events
        (event_id, moderator_id, platform_user_id, severity_score, behaviour_score, context, embedding, created_at)
    -- The scores by position: no join of the wide batch rows (contexts, embeddings) with scored.
    SELECT b.event_id, b.moderator_id, b.platform_user_id, b.severity_score, s.scores[b.n],
           b.context, b.embedding, b.created_at
    FROM batch b, (SELECT array_agg(behaviour_score ORDER BY n) AS scores FROM scored) s
    RETURNING event_id, behaviour_score, created_at
),
authors AS (
    SELECT moderator_id, platform_user_id, min(created_at) AS oldest, max(created_at) AS newest,
           array_agg(event_id ORDER BY created_at, event_id) AS event_ids,
           array_agg(behaviour_score ORDER BY created_at, event_id) AS scores,
           array_agg(hundredths::smallint ORDER BY created_at, event_id) AS recent, sum(hundredths) AS added,
           any_value(stored_ctid) AS stored_ctid, any_value(stored_created_at) AS stored_created_at,
           any_value(stored_event_id) AS stored_event_id
    FROM scored GROUP BY moderator_id, platform_user_id
),
appended AS (
    -- A row another writer changed since the snapshot has moved: its ctid no longer matches, it is not touched.
    UPDATE evaluation_latest_scores t
    SET event_id = a.event_ids[cardinality(a.event_ids)], behaviour_score = a.scores[cardinality(a.scores)],
        created_at = a.newest,
        recent_severities = (t.recent_severities || a.recent)[
            greatest(1, cardinality(t.recent_severities) + cardinality(a.recent) - (behaviour_window() - 1)):],
        recent_total = t.recent_total + a.added - CASE
            WHEN cardinality(t.recent_severities) + cardinality(a.recent) <= behaviour_window() THEN 0
            WHEN cardinality(t.recent_severities) + cardinality(a.recent) = behaviour_window() + 1
                THEN t.recent_severities[1]
            ELSE (SELECT sum(x) FROM unnest((t.recent_severities || a.recent)[
                1:cardinality(t.recent_severities) + cardinality(a.recent) - behaviour_window()]) x)
        END
    FROM authors a
    WHERE t.ctid = a.stored_ctid AND (a.stored_created_at, a.stored_event_id) < (a.oldest, a.event_ids[1])
    RETURNING 1
),
created AS (
    INSERT INTO evaluation_latest_scores
        (moderator_id, platform_user_id, event_id, behaviour_score, created_at, recent_severities, recent_total)
    SELECT a.moderator_id, a.platform_user_id, a.event_ids[cardinality(a.event_ids)], a.scores[cardinality(a.scores)],
           a.newest, a.recent[greatest(1, cardinality(a.recent) - (behaviour_window() - 1)):],
           (SELECT sum(x) FROM unnest(a.recent[greatest(1, cardinality(a.recent) - (behaviour_window() - 1)):]) x)
    FROM authors a
    WHERE a.stored_ctid IS NULL AND NOT EXISTS (
        SELECT 1 FROM evaluation_events e
        WHERE e.moderator_id = a.moderator_id AND e.platform_user_id = a.platform_user_id AND e.created_at < a.oldest
    )
    ON CONFLICT (moderator_id, platform_user_id) DO NOTHING
    RETURNING 1
),
kept AS (
    SELECT set_config('gova.latest_scores_kept', (SELECT min(event_id::text) || '/' || count(*) FROM batch), true)
    WHERE (SELECT count(*) FROM appended) + (SELECT count(*) FROM created) = (SELECT count(*) FROM authors)
)
-- Keys ascend in batch order: the server sorts 1,000 keys in ~0.1 ms, Python's UUID comparisons took ~5 ms.
SELECT i.event_id, i.behaviour_score, i.created_at FROM inserted i LEFT JOIN kept ON true ORDER BY i.event_id
"""

# One event, one statement (the function of moderation/sql/evaluation_event_insert/): lock, moderator check, score,
# the author's row of evaluation_latest_scores, insert.
SINGLE_SQL = "SELECT * FROM evaluation_event_insert(%s, %s, %s, %s, %s::jsonb, %b, %s, %s)"

MODERATOR_FK_SQL = """
SELECT conname FROM pg_constraint
WHERE conrelid = 'evaluation_events'::regclass AND confrelid = 'moderators'::regclass AND contype = 'f'
"""


# Element types of the batch's arrays (pg_type oids; vector's differs per database and comes from TypeInfo).
UUID_OID, TEXT_OID, FLOAT8_OID, TIMESTAMPTZ_OID = 2950, 25, 701, 1184
TIMESTAMP_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # timestamptz_send: int64 microseconds since this instant
ONE_MICROSECOND = timedelta(microseconds=1)
VECTOR_HEADER = struct.pack(">hh", EMBEDDING_DIMENSIONS, 0)  # vector_recv: int16 dimensions, int16 unused


def vector_binary(vector: np.ndarray) -> bytes:
    """pgvector's vector_recv format: int16 dimensions, int16 unused, big-endian float4s."""
    return VECTOR_HEADER + vector.astype(">f4").tobytes()


def timestamptz_binary(moment: datetime) -> bytes:
    return struct.pack(">q", (moment - TIMESTAMP_EPOCH) // ONE_MICROSECOND)


class Batch:
    """A validated batch as columns, ready to bind; `items` is kept to name an offending row later."""

    def __init__(self, events: Iterable[EvaluationInput]):
        self.items = list(events)
        if not self.items:
            raise ValidationError("an evaluation batch needs at least one event", code="empty_batch")
        self.moderators, self.users, self.severities, self.embeddings, self.created = [], [], [], [], []
        for position, item in enumerate(self.items):
            try:
                moderator_id, severity, embedding = _validated(item)
            except (TypeError, ValueError) as exc:
                raise self._invalid(position, exc) from None
            self.moderators.append(moderator_id)
            self.users.append(item.platform_user_id)
            self.severities.append(severity)
            self.embeddings.append(embedding)
            self.created.append(item.created_at)
        self.contexts = self._contexts_json()
        self.lock_keys = _lock_keys(zip(self.moderators, self.users, strict=True))

    def insert_params(self, vector_oid: int) -> dict:
        """INSERT_SQL's parameters, with new event keys on every call (ascending in batch order)."""
        moderator_bytes = {moderator_id: moderator_id.bytes for moderator_id in set(self.moderators)}
        return {
            "event_ids": BinaryArray.of_fixed(uuid7_block(len(self.items)), 16, UUID_OID),
            "moderators": BinaryArray.of_fixed(b"".join(map(moderator_bytes.get, self.moderators)), 16, UUID_OID),
            "users": BinaryArray.of_values([user.encode() for user in self.users], TEXT_OID),
            "severities": BinaryArray.of_fixed(np.asarray(self.severities, dtype=">f8").tobytes(), 8, FLOAT8_OID),
            "contexts": self.contexts,
            "embeddings": BinaryArray.of_values(
                [None if vector is None else vector_binary(vector) for vector in self.embeddings], vector_oid
            ),
            "created": BinaryArray.of_values(
                [None if moment is None else timestamptz_binary(moment) for moment in self.created], TIMESTAMPTZ_OID
            ),
        }

    def single_params(self) -> list:
        """SINGLE_SQL's parameters for the batch's one event; the first is its new key."""
        context = json.dumps(self.items[0].context, ensure_ascii=False, allow_nan=False)
        return [uuid7(), self.moderators[0], self.users[0], self.severities[0], context, self.embeddings[0],
                self.created[0], self.lock_keys[0]]  # fmt: skip

    def _invalid(self, position: int, problem) -> ValidationError:
        return ValidationError(
            f"evaluation {position} of the batch ({_describe(self.items[position])}): {problem}; "
            "nothing of this batch was written",
            code="invalid_evaluation",
        )

    def _contexts_json(self) -> str:
        try:
            text = json.dumps([item.context for item in self.items], ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):
            for position, item in enumerate(self.items):  # find the one that cannot be JSON
                try:
                    json.dumps(item.context, allow_nan=False)
                except (TypeError, ValueError) as exc:
                    raise self._invalid(position, f"context is not JSON: {exc}") from None
            raise
        if "u0000" in text and NUL_ESCAPE.search(text):  # jsonb refuses \u0000; the substring test is ~free
            for position, item in enumerate(self.items):
                if NUL_ESCAPE.search(json.dumps(item.context, ensure_ascii=False)):
                    raise self._invalid(position, "context contains a NUL character, which jsonb cannot hold")
        return text

    def offending_moderator(self, error: psycopg.Error) -> ValidationError | None:
        """The unknown-moderator error naming the first item that carries the key PostgreSQL reports."""
        detail = getattr(error.diag, "message_detail", None) or ""
        for position, moderator_id in enumerate(self.moderators):
            if str(moderator_id) in detail:
                return ValidationError(
                    f"evaluation {position} of the batch ({_describe(self.items[position])}): moderator "
                    f"{moderator_id} does not exist; nothing of this batch was written",
                    code="unknown_moderator",
                )
        return None


def _validated(item: EvaluationInput):
    if not isinstance(item, EvaluationInput):
        raise TypeError(f"expected an EvaluationInput, got {type(item).__name__}")
    moderator_id = item.moderator_id if isinstance(item.moderator_id, uuid.UUID) else uuid.UUID(str(item.moderator_id))
    if not isinstance(item.platform_user_id, str) or not item.platform_user_id:
        raise ValueError("platform_user_id must be a non-empty string")
    if "\x00" in item.platform_user_id:
        raise ValueError("platform_user_id contains a NUL character, which PostgreSQL text cannot hold")
    severity = item.severity_score
    if isinstance(severity, bool) or not isinstance(severity, int | float) or not math.isfinite(severity):
        raise TypeError(f"severity_score must be a finite number, not {severity!r}")
    if not 0 <= severity <= 1:
        raise ValueError(f"severity_score {severity} is outside [0, 1]")
    if not isinstance(item.context, dict):
        raise TypeError(f"context must be a dict, not {type(item.context).__name__}")
    embedding = None
    if item.embedding is not None:
        embedding = np.asarray(item.embedding, dtype=np.float32)
        if embedding.shape != (EMBEDDING_DIMENSIONS,):
            raise ValueError(f"embedding must have {EMBEDDING_DIMENSIONS} dimensions, not {embedding.size}")
        if not np.isfinite(embedding).all():
            raise ValueError("embedding contains NaN or infinity")
    if item.created_at is not None and (not isinstance(item.created_at, datetime) or item.created_at.tzinfo is None):
        raise TypeError("created_at must be an aware datetime")
    # Two decimals, as the service always stored them; behaviour scores average the rounded values.
    return moderator_id, round(float(severity), 2), embedding


def _describe(item) -> str:
    user = getattr(item, "platform_user_id", None)
    return f"platform_user_id={user!r}" if user is not None else type(item).__name__


LOCK_KEY_HASHER = hashlib.blake2b(digest_size=8, person=b"gova.bhv")


def _lock_key(moderator_id: uuid.UUID, platform_user_id: str) -> int:
    return _lock_keys([(moderator_id, platform_user_id)])[0]


def _lock_keys(authors: Iterable[tuple[uuid.UUID, str]]) -> list[int]:
    """The distinct authors' keys (blake2b of "moderator:user") in ascending order. Each moderator's part is
    hashed once and the hasher copied per author: half the cost of hashing every key from the start."""
    moderator_hashers: dict[uuid.UUID, hashlib.blake2b] = {}
    keys = set()
    for moderator_id, platform_user_id in authors:
        moderator_hasher = moderator_hashers.get(moderator_id)
        if moderator_hasher is None:
            moderator_hasher = moderator_hashers[moderator_id] = LOCK_KEY_HASHER.copy()
            moderator_hasher.update(f"{moderator_id}:".encode())
        hasher = moderator_hasher.copy()
        hasher.update(platform_user_id.encode())
        keys.add(int.from_bytes(hasher.digest(), "big", signed=True))
    return sorted(keys)


# -- recording: validate and encode (Batch), execute, translate errors -----------------------------------------
# One batch is always the same statements (_batch_statements); the sync, stream and async paths differ only in
# how they send them and which connection they use.


def record_one(item: EvaluationInput) -> RecordedEvaluation:
    """One event in one statement on Django's connection (in a savepoint inside the caller's transaction)."""
    batch = Batch([item])
    pg = _django_pg_connection()
    cursor, params = vector_cursor(pg), batch.single_params()
    with _translated_errors(batch), _savepoint_in_callers_transaction():  # its own transaction outside the caller's
        behaviour_score, created_at = cursor.execute(SINGLE_SQL, params, prepare=True, binary=True).fetchone()
    return RecordedEvaluation(params[0], behaviour_score, created_at)


def record(events: Iterable[EvaluationInput]) -> list[RecordedEvaluation]:
    """One batch in one round trip on Django's connection (in a savepoint inside the caller's transaction)."""
    batch = Batch(events)
    pg = _django_pg_connection()
    params = batch.insert_params(vector_info(pg).oid)
    with _savepoint_in_callers_transaction() as own_transaction:
        return recorded(_run_batch(pg, batch, params, own_transaction=own_transaction).fetchall())


def record_stream(events: Iterable[EvaluationInput], batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Batches of batch_size, each in its own transaction (a savepoint inside the caller's), the next one validated
    and encoded while the server records the current one. Returns the count."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    pg = _django_pg_connection()
    upcoming = _Upcoming(events, batch_size, vector_info(pg).oid)
    upcoming.read()
    upcoming.prepare()
    count = 0
    while (prepared := upcoming.take()) is not None:
        upcoming.read()
        batch, params = prepared
        # Only the count: not decoding 1,000 result rows saves ~2 ms a batch while the server waits.
        with _savepoint_in_callers_transaction() as own_transaction:
            count += _run_batch(pg, batch, params, own_transaction=own_transaction, meanwhile=upcoming.prepare).rowcount
    return count


async def record_async(events: Iterable[EvaluationInput], pg: psycopg.AsyncConnection) -> list[RecordedEvaluation]:
    """One batch in one round trip and one transaction on an autocommit psycopg AsyncConnection."""
    if not pg.autocommit:
        raise ValueError("evaluation_events_record_async needs an autocommit AsyncConnection (autocommit=True)")
    batch = Batch(events)
    info = getattr(pg, "_gova_vector_info", None)
    if info is None:
        info = pg._gova_vector_info = await TypeInfo.fetch(pg, "vector")
    fk_name = getattr(pg, "_gova_moderator_fk", None)
    if fk_name is None:
        fk_name = pg._gova_moderator_fk = (await (await pg.execute(MODERATOR_FK_SQL)).fetchone())[0]
    statements = _batch_statements(batch, batch.insert_params(info.oid), fk_name, own_transaction=True)
    async with binary_vector_cursor(pg, info) as cursor:
        with _translated_errors(batch):
            try:
                async with pg.pipeline():
                    for statement in statements:
                        if statement.returns_rows:
                            await cursor.execute(statement.sql, statement.params, prepare=True, binary=True)
                        else:
                            await pg.execute(statement.sql, statement.params, prepare=statement.prepare)
            except BaseException:
                if pg.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    await pg.execute("ROLLBACK")
                raise
        return recorded(await cursor.fetchall())


class _Statement(NamedTuple):
    sql: str | psycopg.sql.Composable
    params: list | dict | None = None
    prepare: bool | None = None
    returns_rows: bool = False  # INSERT_SQL: on the vector cursor, results in binary


def _batch_statements(batch: Batch, params: dict, fk_name: str, *, own_transaction: bool) -> list[_Statement]:
    """The statements of one batch, sent as one pipeline; only the INSERT returns rows."""
    return [
        *([_Statement("BEGIN")] if own_transaction else []),
        _Statement(constraint_sql(fk_name)),
        # prepare=True: kept prepared per connection where DATABASES' OPTIONS allow it (prepare_threshold set;
        # Django's default turns prepared statements off, for poolers), which saves ~1-3 ms of planning a batch.
        _Statement(LOCK_SQL, [batch.lock_keys], prepare=True),
        _Statement(INSERT_SQL, params, prepare=True, returns_rows=True),
        *([_Statement("COMMIT")] if own_transaction else []),
    ]


def _run_batch(
    pg: psycopg.Connection, batch: Batch, params: dict, *, own_transaction: bool, meanwhile=None
) -> psycopg.Cursor:
    """One batch in one pipeline; returns the cursor holding its rows (INSERT_SQL's). `meanwhile` (which must
    not raise or touch the connection) runs once every statement is on the wire, before the results are read."""
    statements = _batch_statements(batch, params, moderator_fk_name(pg), own_transaction=own_transaction)
    cursor = vector_cursor(pg)
    with _translated_errors(batch):
        try:
            with pg.pipeline():
                for statement in statements:
                    if statement.returns_rows:
                        cursor.execute(statement.sql, statement.params, prepare=True, binary=True)
                    else:
                        psycopg.Cursor(pg).execute(statement.sql, statement.params, prepare=statement.prepare)
                if meanwhile is not None:
                    meanwhile()
        except BaseException:
            if own_transaction and pg.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                pg.execute("ROLLBACK")
            raise
    return cursor


@contextlib.contextmanager
def _translated_errors(batch: Batch):
    """A server error about the batch's data raised as the ValidationError naming the item, with nothing written."""
    try:
        yield
    except psycopg.errors.ForeignKeyViolation as exc:
        raise (batch.offending_moderator(exc) or exc) from None


@contextlib.contextmanager
def _savepoint_in_callers_transaction():
    """Yields whether the batch runs its own transaction; inside the caller's it runs in a savepoint, so that a
    rejected batch leaves the caller's transaction usable."""
    if connection.in_atomic_block:
        with transaction.atomic():
            yield False
    else:
        yield True


class _Upcoming:
    """A stream's next batch: read from the events while the connection is idle, then validated and encoded
    while the server records the batch before it. An error preparing it is kept until that batch has an outcome,
    so it is raised in order (a server error in the earlier batch comes first)."""

    def __init__(self, events: Iterable[EvaluationInput], batch_size: int, vector_oid: int):
        self._events, self._batch_size, self._vector_oid = iter(events), batch_size, vector_oid
        self._chunk: list | None = None
        self._prepared: tuple[Batch, dict] | None = None
        self._error: Exception | None = None

    def read(self) -> None:
        self._chunk = list(itertools.islice(self._events, self._batch_size))

    def prepare(self) -> None:
        """Never raises: called while a batch's statements are in flight."""
        chunk, self._chunk = self._chunk, None
        try:
            if chunk:
                batch = Batch(chunk)
                self._prepared = batch, batch.insert_params(self._vector_oid)
        except Exception as exc:
            self._error = exc

    def take(self) -> tuple[Batch, dict] | None:
        if self._error is not None:
            raise self._error
        prepared, self._prepared = self._prepared, None
        return prepared


# -- per-connection details (fetched once per psycopg connection) ----------------------------------------------


def _django_pg_connection() -> psycopg.Connection:
    """The psycopg connection under Django's (opened if need be)."""
    connection.ensure_connection()
    return connection.connection


def moderator_fk_name(pg_connection) -> str:
    name = getattr(pg_connection, "_gova_moderator_fk", None)
    if name is None:
        name = pg_connection.execute(MODERATOR_FK_SQL).fetchone()[0]
        pg_connection._gova_moderator_fk = name
    return name


def constraint_sql(fk_name: str) -> psycopg.sql.Composed:
    return psycopg.sql.SQL("SET CONSTRAINTS {} IMMEDIATE").format(psycopg.sql.Identifier(fk_name))


def recorded(rows) -> list[RecordedEvaluation]:
    """INSERT_SQL's rows (in batch order) as results."""
    return list(map(RecordedEvaluation._make, rows))
