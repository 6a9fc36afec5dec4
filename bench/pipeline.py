"""The event pipeline against its physical limits: ingest, folding, similar content, stats, leaderboard, queue, trends.

    python -m bench.pipeline [--events 1000000] [--legacy-events 100000] [--embedded-share 0.2] [--queries 20]
                                                                                  (or `make bench-pipeline`)

A throwaway embedded PostgreSQL in a temporary folder gets the schema (`migrate`), 200 moderators (one with 5% of
the rows, the next with ~3%, a long tail) and N evaluation events, 20% with 1024-d embeddings drawn around topic
centres (each moderator writes about a few of 256 topics, so recall means something). The events are recorded
through the batch ingest path itself (evaluation_events_record_stream, batches of 1,000), in a child process with
DEBUG on (its peak memory is a figure). Beside them the old service writes --legacy-events evaluations its own way
(uuid4 keys, its own created_at, no embedding) before the first fold; later embeddings are backfilled onto a share of
them with UPDATE, and folded. Every figure is printed with a baseline measured in the same run, on the same rows:

    ingest               binary COPY of the same rows into a copy of the table without any vector index;
                         the service path as it was (full_clean + save per row, table-wide HNSW index present)
    folding              CREATE INDEX ... USING hnsw over the same rows of the copy table
    single record        one plain INSERT of the same row, the two timed in turns on two halves of the authors
    embedding backfill   the same UPDATE of the copy table (no vector index, no triggers)
    similar content      exact search (recall@10 is measured against it)
    stats                the same query with index scans off (a sequential scan)

It prints the timings and asserts nothing about them. Real errors exit non-zero.
"""

import argparse
import itertools
import multiprocessing
import os
import resource
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

import numpy as np

DATABASE = "bench"
DIMENSIONS = 1024
MODERATORS = 200
TOPICS = 256
TOPICS_PER_MODERATOR = 8
SPREAD = 0.8  # noise norm around a topic centre: cosine ~0.78 to the centre, ~0.6 between two of a topic
SEED = 20261126
BATCH = 1000
LEGACY_ROWS = 1000  # the old path runs ~70-140 rows/s: ~10 s, so one slow or fast graph insert does not sway the rate
SERVER_SETTINGS = {"shared_buffers": "2GB", "max_wal_size": "8GB", "checkpoint_timeout": "30min"}
MODERATOR_CONF = {
    "guild_id": 123456789012345678, "channel_ids": [1, 2], "guild_summary": "A benchmark community",
    "guidelines": "Be kind. No slurs, no spam.", "instructions": None,
    "actions": [
        {"type": "reply", "requires_approval": False},
        {"type": "timeout", "requires_approval": True, "default_params": {"duration": 600}},
    ],
}  # fmt: skip


# -- the data ------------------------------------------------------------------------------------------------------


def moderator_weights(count: int = MODERATORS) -> np.ndarray:
    """Share of rows per moderator: 5% for the largest, the rest a Zipf tail whose head (second largest) has 3%."""
    low, high = 0.0, 3.0
    for _ in range(60):  # bisect the exponent
        exponent = (low + high) / 2
        tail = 1.0 / np.arange(1, count) ** exponent
        tail = 0.95 * tail / tail.sum()
        low, high = (exponent, high) if tail[0] < 0.03 else (low, exponent)
    return np.concatenate([[0.05], tail])


class Generator:
    """The same rows for every writer (our ingest, the COPY baseline): batch b depends only on (SEED, b)."""

    def __init__(self, events: int, embedded_share: float, moderator_ids: list, end: datetime):
        self.events, self.embed_every = events, max(1, round(1 / embedded_share)) if embedded_share else 0
        self.moderator_ids = moderator_ids
        self.weights = moderator_weights(len(moderator_ids))
        self.users = np.maximum(10, (self.weights * events / 20).astype(int))  # ~20 messages per user
        rng = np.random.default_rng(SEED)
        centres = rng.normal(size=(TOPICS, DIMENSIONS))
        self.centres = (centres / np.linalg.norm(centres, axis=1, keepdims=True)).astype(np.float32)
        self.topics = np.array([rng.choice(TOPICS, TOPICS_PER_MODERATOR, replace=False) for _ in moderator_ids])
        self.start, self.span = end - timedelta(days=365), timedelta(days=365) - timedelta(minutes=5)

    def vectors(self, rng, topics: np.ndarray) -> np.ndarray:
        noise = rng.normal(0, SPREAD / np.sqrt(DIMENSIONS), (len(topics), DIMENSIONS)).astype(np.float32)
        vectors = self.centres[topics] + noise
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    def query_vectors(self, count: int, moderator: int | None = None, *, warm_up: bool = False) -> np.ndarray:
        """Queries about the moderator's topics (every topic for None). warm_up draws other queries about the same
        topics: a warm-up then touches the graph where the measured queries go, as a running service's do."""
        seed = SEED + 7 + (moderator or 0)
        rng = np.random.default_rng([seed, 1] if warm_up else seed)
        pool = self.topics[moderator] if moderator is not None else self.topics.ravel()
        return self.vectors(rng, rng.choice(pool, count))

    def batch(self, number: int):
        from moderation.ingest import EvaluationInput

        first = number * BATCH
        count = min(BATCH, self.events - first)
        rng = np.random.default_rng([SEED, number])
        moderators = rng.choice(len(self.moderator_ids), count, p=self.weights)
        users = (rng.random(count) * self.users[moderators]).astype(int)
        severities = np.round(rng.beta(0.8, 3.0, count), 2)
        topic_pick = self.topics[moderators, rng.integers(0, TOPICS_PER_MODERATOR, count)]
        embedded = (np.arange(first, first + count) % self.embed_every == 0) if self.embed_every else np.zeros(count)
        vectors = self.vectors(rng, topic_pick[embedded]) if embedded.any() else None
        items, v = [], 0
        for i in range(count):
            n = first + i
            user = f"user-{users[i]}"
            vector = None
            if embedded[i]:
                vector, v = vectors[v], v + 1
            items.append(
                EvaluationInput(
                    self.moderator_ids[moderators[i]],
                    user,
                    float(severities[i]),
                    {
                        "message_id": str(n),
                        "platform": "discord",
                        "channel_id": "c-1",
                        "user_id": user,
                        "username": user,
                        "content": f"topic {topic_pick[i]} message {n}",
                        "roles": ["member"],
                        "reply_to": None,
                    },  # fmt: skip
                    vector,
                    self.start + self.span * (n / self.events),
                )
            )
        return items

    @property
    def batches(self) -> int:
        return -(-self.events // BATCH)


class Progress:
    def __init__(self, label: str, total: int):
        self.label, self.total, self.started, self.shown = label, total, time.monotonic(), 0.0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if now - self.shown < 0.5 and done < self.total:
            return
        self.shown = now
        width = 30
        filled = int(width * done / self.total) if self.total else width
        rate = done / max(now - self.started, 1e-9)
        sys.stderr.write(
            f"\r{self.label:<26} [{'#' * filled}{'.' * (width - filled)}] {done:>10,}/{self.total:,} {rate:>9,.0f}/s"
        )
        if done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


# -- child processes (own peak memory, own Django) -----------------------------------------------------------------


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _child_setup(debug: bool) -> None:
    os.environ["DJANGO_DEBUG"] = "true" if debug else "false"
    import django

    django.setup()


def write_all(label: str, generator, write_batch) -> dict:
    """Every batch of the generator through write_batch; only the writing is timed, not the generating."""
    progress = Progress(label, generator.events)
    busy, done = 0.0, 0
    for number in range(generator.batches):
        items = generator.batch(number)
        started = time.monotonic()
        write_batch(items)
        busy += time.monotonic() - started
        done += len(items)
        progress.update(done)
    return {"rows": done, "seconds": busy, "maxrss_mb": peak_memory_mb()}


def ingest_child(events, embedded_share, moderator_ids, end, results) -> None:
    """Seed through evaluation_events_record_stream (a transaction and a round trip per batch, the next batch
    validated while the server records the current one), with DEBUG on (nothing may pile up). The time spent
    generating the rows is taken out, as the baseline's is: the stream reads them between batches, not overlapped.
    """
    try:
        _child_setup(debug=True)
        from moderation.services import evaluation_events_record_stream

        generator = Generator(events, embedded_share, moderator_ids, end)
        progress = Progress("ingest (ours)", generator.events)
        generating = 0.0

        def rows():
            nonlocal generating
            for number in range(generator.batches):
                started = time.monotonic()
                items = generator.batch(number)
                generating += time.monotonic() - started
                progress.update(number * BATCH)
                yield from items

        started = time.monotonic()
        done = evaluation_events_record_stream(events=rows(), batch_size=BATCH)
        busy = time.monotonic() - started - generating
        progress.update(done)
        results.put({"rows": done, "seconds": busy, "maxrss_mb": peak_memory_mb()})
    except Exception as exc:
        results.put({"error": f"{type(exc).__name__}: {exc}"})


def copy_child(events, embedded_share, moderator_ids, end, results) -> None:
    """The physical limit: binary COPY of the same rows, streamed, into evaluation_events_copy (no vector index)."""
    try:
        _child_setup(debug=False)
        import psycopg
        from django.db import connection
        from pgvector.psycopg.vector import register_vector_info
        from psycopg.types.json import Jsonb

        from gova.db import uuid7
        from moderation.vectors import vector_info

        generator = Generator(events, embedded_share, moderator_ids, end)
        connection.ensure_connection()
        pg = connection.connection

        def copy_batch(items):
            with psycopg.Cursor(pg) as cursor:
                register_vector_info(cursor, vector_info(pg))
                with cursor.copy(
                    "COPY evaluation_events_copy (event_id, moderator_id, platform_user_id, severity_score, "
                    "behaviour_score, context, embedding, created_at) FROM STDIN (FORMAT BINARY)"
                ) as copy:
                    copy.set_types(["uuid", "uuid", "text", "float8", "float8", "jsonb", "vector", "timestamptz"])
                    for item in items:
                        copy.write_row(
                            (uuid7(), item.moderator_id, item.platform_user_id, item.severity_score, 0.0,
                             Jsonb(item.context), item.embedding, item.created_at)
                        )  # fmt: skip

        results.put(write_all("binary COPY (baseline)", generator, copy_batch))
    except Exception as exc:
        results.put({"error": f"{type(exc).__name__}: {exc}"})


def in_child(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=target, args=(*args, results))
    process.start()
    try:
        outcome = results.get()
        process.join(120)
    finally:
        if process.is_alive():
            process.terminate()
            process.join()
    if "error" in outcome:
        raise RuntimeError(f"{target.__name__}: {outcome['error']}")
    return outcome


# -- measurements --------------------------------------------------------------------------------------------------


def timed(function, repeat: int) -> tuple[float, object]:
    """p50 in ms over `repeat` calls (after one warm-up call), and the last result."""
    result = function()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def timed_in_turns(first, second, repeat: int) -> tuple[float, float]:
    """p50 in ms of each of two functions called in turns, `repeat` calls each (after one warm-up call each): both
    meet the same state of the machine and the server (a checkpoint under way, pages just evicted), which two runs
    of `repeat` calls one after the other do not."""
    first(), second()
    samples = ([], [])
    for _ in range(repeat):
        for function, kept in zip((first, second), samples, strict=True):
            started = time.perf_counter()
            function()
            kept.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples[0]), statistics.median(samples[1])


def sql(statement: str, params=None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


class Report:
    def __init__(self):
        self.rows = []

    def add(self, figure, ours, baseline, ratio, target, met):
        self.rows.append((figure, ours, baseline, ratio, target, "yes" if met else ("-" if met is None else "NO")))

    def print(self):
        headers = ("figure", "ours", "baseline (same run)", "ratio", "target", "met")
        widths = [max(len(str(row[i])) for row in [headers, *self.rows]) for i in range(len(headers))]
        line = "  ".join(f"{{:<{w}}}" for w in widths)
        print(line.format(*headers))
        print(line.format(*("-" * w for w in widths)))
        for row in self.rows:
            print(line.format(*row))


def create_moderators(count: int, first: int = 0) -> list:
    """`count` moderators, each with a user of its own (no password: nobody logs in), through the service."""
    from accounts.models import User
    from moderation.services import moderator_create

    moderators = []
    for n in range(first, first + count):
        user = User.objects.create_user(username=f"bench{n}", email=f"bench{n}@example.com")
        moderators.append(
            moderator_create(user=user, name=f"moderator {n}", platform_server_id=f"guild-{n}", conf=MODERATOR_CONF)
        )
    return moderators


def create_copy_table() -> None:
    # Same columns, defaults, checks, storage, B-tree indexes and foreign key; no vector index (the baseline's
    # physical limit).
    sql(
        "CREATE TABLE evaluation_events_copy "
        "(LIKE evaluation_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE)"
    )
    sql("ALTER TABLE evaluation_events_copy ADD PRIMARY KEY (event_id)")
    sql("CREATE INDEX ON evaluation_events_copy (moderator_id, created_at)")
    sql(
        "CREATE INDEX ON evaluation_events_copy (moderator_id, platform_user_id, created_at) "
        "INCLUDE (severity_score, behaviour_score, event_id)"
    )
    sql("CREATE INDEX ON evaluation_events_copy (platform_user_id)")
    sql("CREATE INDEX ON evaluation_events_copy (fold_seq) WHERE embedding IS NOT NULL AND fold_seq IS NOT NULL")
    sql("ALTER TABLE evaluation_events_copy ADD FOREIGN KEY (moderator_id) REFERENCES moderators")
    # LIKE copies the columns' storage, not the table's storage parameters (toast_tuple_target, migration 0023).
    options = sql("SELECT reloptions FROM pg_class WHERE oid = 'evaluation_events'::regclass")[0][0]
    if options:
        sql(f"ALTER TABLE evaluation_events_copy SET ({', '.join(options)})")


def seed_actions() -> int:
    """One action per severe evaluation (service-side INSERT ... SELECT); 10% still await approval."""
    sql(
        "INSERT INTO action_events (action_id, event_id, moderator_id, platform_user_id, evaluation_id, action_type, "
        "action_params, context, status, created_at, updated_at) "
        "SELECT uuidv7(), event_id, moderator_id, platform_user_id, event_id, 'timeout', '{}', '{}', "
        "CASE WHEN random() < 0.1 THEN 'awaiting_approval' ELSE 'completed' END, created_at, created_at "
        "FROM evaluation_events WHERE severity_score >= 0.7"
    )
    return sql("SELECT count(*) FROM action_events")[0][0]


def seed_trends(moderator_id, flagged: int, end: datetime) -> None:
    """A moderator with `flagged` flagged events in the last 24 h (and as many the day before), 30 topics."""
    from moderation.ingest import EvaluationInput
    from moderation.services import evaluation_events_record_stream

    rng = np.random.default_rng(SEED + 99)
    centres = rng.normal(size=(30, DIMENSIONS))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)

    def events():
        for n in range(2 * flagged):
            topic = int(rng.integers(0, 30 if n >= flagged else 20))  # ten topics new today
            # Waves of near-duplicates (spam, raids): tighter than the topics of the main data set.
            vector = centres[topic] + rng.normal(0, 0.4 / np.sqrt(DIMENSIONS), DIMENSIONS)
            created = end - timedelta(hours=48) + timedelta(hours=48) * (n / (2 * flagged))
            yield EvaluationInput(
                moderator_id, f"user-{rng.integers(0, 500)}", 0.9, {"content": f"topic {topic} message {n}"},
                vector, created,
            )  # fmt: skip

    evaluation_events_record_stream(events=events())


def legacy_record_rate(generator, moderator_ids) -> float:
    """The service path as it was: full_clean + save in a transaction, per row, with a table-wide HNSW index."""
    from django.db import transaction

    from moderation.models import EvaluationEvent, Moderator

    items = generator.batch(0)[:LEGACY_ROWS]
    moderators = Moderator.objects.in_bulk(moderator_ids)
    table = EvaluationEvent._meta.db_table
    EvaluationEvent._meta.db_table = "evaluation_events_copy"  # bench only: the old code, aimed at the copy
    try:
        started = time.monotonic()
        for item in items:
            with transaction.atomic():
                event = EvaluationEvent(
                    moderator=moderators[item.moderator_id],
                    platform_user_id=item.platform_user_id,
                    severity_score=round(item.severity_score, 2),
                    behaviour_score=0.0,
                    context=item.context,
                    embedding=None if item.embedding is None else item.embedding.tolist(),
                )
                event.full_clean()
                event.save()
        return len(items) / (time.monotonic() - started)
    finally:
        EvaluationEvent._meta.db_table = table


def old_service_writes(count: int, generator, moderator_ids, end: datetime) -> list[tuple]:
    """`count` evaluations written as the old service writes them (its column list: a uuid4 key from the Kafka
    event, created_at in whole seconds, no embedding), over the year before the run, oldest first, into the table
    and the same rows into the copy table. Returns [(event_id, topic)] for the backfill."""
    import uuid

    from psycopg.types.json import Jsonb

    rng = np.random.default_rng(SEED + 13)
    start = end - timedelta(days=365)
    written = []
    progress = Progress("old service writes", count)
    for first in range(0, count, BATCH):
        size = min(BATCH, count - first)
        moderators = rng.choice(len(moderator_ids), size, p=generator.weights)
        topics = generator.topics[moderators, rng.integers(0, TOPICS_PER_MODERATOR, size)]
        keys = [uuid.uuid4() for _ in range(size)]
        users = [f"old-user-{n}" for n in rng.integers(0, 5000, size)]
        created = [
            (start + timedelta(days=365) * ((first + i) / count)).replace(microsecond=0) for i in range(size)
        ]  # fmt: skip
        contexts = [Jsonb({"content": f"topic {topic} old message {first + i}"}) for i, topic in enumerate(topics)]
        row_arrays = [keys, [moderator_ids[m] for m in moderators], users, np.round(rng.beta(0.8, 3.0, size), 2)]
        for table in ("evaluation_events", "evaluation_events_copy"):
            sql(
                f"INSERT INTO {table} (event_id, moderator_id, platform_user_id, severity_score, behaviour_score, "
                "context, created_at) SELECT * FROM unnest(%s::uuid[], %s::uuid[], %s::text[], %s::float8[], "
                "%s::float8[], %s::jsonb[], %s::timestamptz[])",
                [*map(list, row_arrays), [0.0] * size, contexts, created],
            )
        written += zip(keys, topics, strict=True)
        progress.update(first + size)
    return written


def backfill_figures(report, generator, written: list, embedded_share: float) -> int:
    """Embeddings backfilled onto a share of the old service's rows with UPDATE, batches of 1,000, against the same
    UPDATE of the copy table. Returns the rows updated."""
    from django.db import connection

    from moderation.ingest import UUID_OID, vector_binary
    from moderation.vectors import BinaryArray, vector_cursor, vector_info

    every = max(1, round(1 / embedded_share)) if embedded_share else 0
    picked = written[::every] if every else []
    if not picked:
        return 0
    rng = np.random.default_rng(SEED + 17)
    vectors = generator.vectors(rng, np.array([topic for _, topic in picked]))
    connection.ensure_connection()
    pg = connection.connection
    cursor = vector_cursor(pg)
    vector_oid = vector_info(pg).oid
    rates = {}
    for table in ("evaluation_events_copy", "evaluation_events"):
        progress = Progress(f"backfill ({table.removeprefix('evaluation_')})", len(picked))
        busy = 0.0
        for first in range(0, len(picked), BATCH):
            keys = b"".join(key.bytes for key, _ in picked[first : first + BATCH])
            batch_vectors = [vector_binary(vector) for vector in vectors[first : first + BATCH]]
            started = time.monotonic()
            cursor.execute(
                f"UPDATE {table} e SET embedding = b.embedding "
                "FROM ROWS FROM (unnest(%b::uuid[]), unnest(%b::vector[])) AS b(event_id, embedding) "
                "WHERE e.event_id = b.event_id",
                [BinaryArray.of_fixed(keys, 16, UUID_OID), BinaryArray.of_values(batch_vectors, vector_oid)],
            )
            busy += time.monotonic() - started
            progress.update(first + len(batch_vectors))
        rates[table] = len(picked) / busy
    ours, baseline = rates["evaluation_events"], rates["evaluation_events_copy"]
    report.add(
        f"backfilling {len(picked):,} embeddings onto the old service's uuid4 rows (UPDATE), rows/s",
        f"{ours:,.0f}/s",
        f"the same UPDATE of the copy table (no vector index, no triggers): {baseline:,.0f}/s",
        f"{ours / baseline:.2f}x",
        "-",
        None,
    )
    return len(picked)


def queue_figures(report, actions: int) -> None:
    """`awaiting_approval()[:50]`: its SQL's round trip and the ORM's model instances, then both again with ten
    times as many actions waiting (the read must not grow with the queue)."""
    import psycopg
    from django.db import connection

    from moderation.models import ActionEvent

    page = ActionEvent.objects.awaiting_approval()[:50]
    statement, params = page.query.sql_with_params()
    connection.ensure_connection()
    cursor = psycopg.Cursor(connection.connection)

    def measure() -> tuple[float, float, float]:
        round_trip_ms, _ = timed(lambda: cursor.execute(statement, params, prepare=True).fetchall(), 50)
        orm_ms, _ = timed(lambda: list(page.all()), 20)
        plan = cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", params).fetchone()[0][0]
        return round_trip_ms, orm_ms, plan["Execution Time"]

    def awaiting() -> int:
        return sql("SELECT count(*) FROM action_events WHERE status = 'awaiting_approval'")[0][0]

    (small_ms, small_orm, small_server), small_queue = measure(), awaiting()
    sql(
        "INSERT INTO action_events (action_id, event_id, moderator_id, platform_user_id, evaluation_id, action_type, "
        "action_params, context, status, created_at, updated_at) "
        "SELECT uuidv7(), event_id, moderator_id, platform_user_id, event_id, 'timeout', '{}', '{}', "
        "'awaiting_approval', created_at, created_at FROM evaluation_events WHERE severity_score >= 0.7 "
        "AND random() < %s",
        [min(1.0, 9 * small_queue / max(1, actions))],
    )
    sql("VACUUM ANALYZE action_events")
    (large_ms, large_orm, large_server), large_queue = measure(), awaiting()
    report.add(
        f"review queue, first 50 ({small_queue:,} awaiting of {actions:,} actions), round trip / in the server",
        f"{small_ms:.2f} ms / {small_server:.2f} ms",
        f"with {large_queue:,} awaiting: {large_ms:.2f} ms / {large_server:.2f} ms",
        f"{large_ms / small_ms:.2f}x",
        "<= 1 ms",
        small_ms <= 1,
    )
    report.add(
        "  ... the same as 50 ORM model instances",
        f"{small_orm:.2f} ms",
        f"with {large_queue:,} awaiting: {large_orm:.2f} ms",
        f"{large_orm / small_orm:.2f}x",
        "-",
        None,
    )


def recall(found: list, truth: list) -> float:
    return len(set(found) & set(truth)) / max(1, len(truth))


def similar_figures(report, generator, moderator_ids, queries: int) -> None:
    from django.db import connection

    from moderation.similar import Filters, plan, search

    pg = connection.connection
    ranked = np.argsort(-generator.weights)
    cases = [("unfiltered", None, 8)]
    cases += [(f"filtered: largest ({generator.weights[ranked[0]]:.1%})", ranked[0], 20)]
    cases += [(f"filtered: mid-size ({generator.weights[ranked[20]]:.2%})", ranked[20], 20)]
    cases += [(f"filtered: small ({generator.weights[ranked[150]]:.2%})", ranked[150], 20)]
    for label, moderator, target_ms in cases:
        filters = Filters(moderator_id=moderator_ids[moderator]) if moderator is not None else Filters()
        vectors = generator.query_vectors(queries, moderator)
        chosen = plan(pg, filters).strategy
        # Warm up on other queries about the same topics (the graph is hot in a running service; queries about
        # another moderator's 8 topics had left most of it cold), then all of ours before any exact search: an
        # exact search reads every embedding of the filter and evicts the graph's pages.
        for vector in generator.query_vectors(3 * queries, moderator, warm_up=True):
            search(pg, vector, 10, filters)
        ours, exact, found = [], [], []
        for vector in vectors:
            started = time.perf_counter()
            found.append(search(pg, vector, 10, filters))
            ours.append((time.perf_counter() - started) * 1000)
        recalls = []
        for vector, rows in zip(vectors, found, strict=True):
            started = time.perf_counter()
            truth = search(pg, vector, 10, filters, strategy="exact")
            exact.append((time.perf_counter() - started) * 1000)
            recalls.append(recall([row[0] for row in rows], [row[0] for row in truth]))
        p50, mean_recall = statistics.median(ours), statistics.mean(recalls)
        report.add(
            f"similar k=10, {label} [{chosen}], p50 / recall@10",
            f"{p50:.1f} ms / {mean_recall:.3f}",
            f"exact {statistics.median(exact):.1f} ms",
            f"{statistics.median(exact) / p50:.1f}x faster",
            f"<= {target_ms} ms at >= 0.95",
            p50 <= target_ms and mean_recall >= 0.95,
        )
        print(f"  measured: {label}", flush=True)


def tail_figure(report, generator, moderator_ids, tail_rows: int = 1000) -> None:
    """Unfiltered search with a minute's worth of unfolded rows (exact-scanned) next to the graphs."""
    from django.db import connection

    from moderation.ingest import EvaluationInput
    from moderation.services import evaluation_events_record
    from moderation.similar import Filters, search

    rng = np.random.default_rng(SEED + 5)
    vectors = generator.vectors(rng, rng.choice(generator.topics.ravel(), tail_rows))
    evaluation_events_record(
        events=[EvaluationInput(moderator_ids[1], "tail", 0.3, {"content": "tail"}, v) for v in vectors]
    )
    pg = connection.connection
    queries = generator.query_vectors(10)
    p50, _ = timed(lambda: [search(pg, q, 10, Filters()) for q in queries], 3)
    report.add(
        f"  ... unfiltered, with {tail_rows:,} unfolded rows in the tail",
        f"{p50 / len(queries):.1f} ms",
        "-",
        "-",
        "fold often enough",
        None,
    )


# -- the run -------------------------------------------------------------------------------------------------------


def environment(conninfo) -> list[str]:
    from django.conf import settings

    from bench.results import machine

    version = sql("SHOW server_version")[0][0]
    vector = sql("SELECT extversion FROM pg_extension WHERE extname = 'vector'")[0][0]
    shown = ", ".join(
        f"{name}={sql(f'SHOW {name}')[0][0]}"
        for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "synchronous_commit", "fsync")
    )
    # Without huge pages each backend maps shared_buffers 4 kB at a time: a search on pages its connection has not
    # touched yet took ~2x as long (docs/production.md, huge pages). PostgreSQL 17+ says whether it got them.
    huge_pages = sql("SELECT current_setting('huge_pages_status', true)")[0][0] or sql("SHOW huge_pages")[0][0]
    return [
        f"machine: {machine()}",
        f"PostgreSQL {version}, pgvector {vector}; {shown}, huge pages: {huge_pages}",
        f"folding and index builds: maintenance_work_mem={settings.GOVA_MIGRATION_MAINTENANCE_WORK_MEM}, "
        f"max_parallel_maintenance_workers={settings.GOVA_MIGRATION_MAINTENANCE_WORKERS}",
    ]


def run(args, conninfo) -> None:
    import psycopg
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from psycopg.types.json import Jsonb

    from moderation.models import EvaluationEvent
    from moderation.services import evaluation_embeddings_fold, evaluation_event_record
    from moderation.similar import Filters, search
    from moderation.stats import moderator_stats
    from moderation.trends import content_trends
    from moderation.vector_index import pending_rows

    call_command("migrate", verbosity=0)
    end = datetime.now(UTC)
    moderators = create_moderators(MODERATORS)
    moderator_ids = [m.pk for m in moderators]
    create_copy_table()
    report = Report()
    generator = Generator(args.events, args.embedded_share, moderator_ids, end)
    embedded = sum(1 for n in range(args.events) if n % generator.embed_every == 0) if generator.embed_every else 0
    print(f"seeding {args.events:,} evaluation events ({embedded:,} with {DIMENSIONS}-d embeddings), "
          f"{MODERATORS} moderators", flush=True)  # fmt: skip

    ours = in_child(ingest_child, args.events, args.embedded_share, moderator_ids, end)
    copy = in_child(copy_child, args.events, args.embedded_share, moderator_ids, end)
    ours_rate, copy_rate = ours["rows"] / ours["seconds"], copy["rows"] / copy["seconds"]
    written = old_service_writes(args.legacy_events, generator, moderator_ids, end)
    print("VACUUM ANALYZE, CHECKPOINT ...", flush=True)
    connection.close()  # the children wrote; start from a fresh session
    for table in ("evaluation_events", "evaluation_events_copy"):
        sql(f"VACUUM ANALYZE {table}")
    sql("CHECKPOINT")

    # Folding every embedding so far vs CREATE INDEX over the same rows of the copy.
    print("folding (ours) ...", flush=True)
    fold = evaluation_embeddings_fold(lag_seconds=0)
    folded_rows = fold.built.rows if fold.built else 0
    print("CREATE INDEX (baseline) ...", flush=True)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('maintenance_work_mem', %s, false), "
            "set_config('max_parallel_maintenance_workers', %s, false)",
            [settings.GOVA_MIGRATION_MAINTENANCE_WORK_MEM, str(settings.GOVA_MIGRATION_MAINTENANCE_WORKERS)],
        )
        started = time.monotonic()
        cursor.execute("CREATE INDEX copy_hnsw ON evaluation_events_copy USING hnsw (embedding vector_cosine_ops)")
        create_seconds = time.monotonic() - started
        cursor.execute("RESET maintenance_work_mem; RESET max_parallel_maintenance_workers")
    legacy_rate = legacy_record_rate(generator, moderator_ids)  # the old path writes with copy_hnsw present
    sql("DROP INDEX copy_hnsw")  # only timed; kept, it would compete with ours for shared_buffers

    report.add(
        "batch ingest rows/s (embedding+context+behaviour score), vector index on the table",
        f"{ours_rate:,.0f}/s",
        f"binary COPY, no vector index: {copy_rate:,.0f}/s",
        f"{ours_rate / copy_rate:.2f}x",
        ">= 0.6x",
        ours_rate / copy_rate >= 0.6,
    )
    report.add(
        "same",
        f"{ours_rate:,.0f}/s",
        f"old evaluation_event_record per row, HNSW on the table: {legacy_rate:,.0f}/s",
        f"{ours_rate / legacy_rate:,.0f}x",
        ">= 100x",
        ours_rate / legacy_rate >= 100,
    )
    report.add(
        f"peak memory ingesting {args.events:,} events (DEBUG on)",
        f"{ours['maxrss_mb']:.0f} MB",
        f"binary COPY streamed: {copy['maxrss_mb']:.0f} MB",
        f"{ours['maxrss_mb'] / copy['maxrss_mb']:.2f}x",
        "<= 2x",
        ours["maxrss_mb"] / copy["maxrss_mb"] <= 2,
    )
    report.add(
        f"folding {folded_rows:,} pending embeddings into the vector index",
        f"{fold.built.build_seconds:.1f} s" if fold.built else "-",
        f"CREATE INDEX over the same rows: {create_seconds:.1f} s",
        f"{create_seconds / fold.built.build_seconds:.2f}x speed" if fold.built else "-",
        ">= 0.5x",
        bool(fold.built) and create_seconds / fold.built.build_seconds >= 0.5,
    )

    # Single-event latency: our one round trip vs one plain INSERT of the same row, in turns. Each call is a message
    # of the next of the largest moderator's authors (as a server's chat arrives), not 400 in a row from one author.
    # Each writes its own half of the authors: the first write to a page after a checkpoint logs the whole page,
    # so a writer that followed the other over the same authors would find their pages logged and in memory.
    big = moderators[0]
    vector = generator.query_vectors(1)[0]
    context = {"content": "latency probe", "user_id": "probe"}
    authors = [f"user-{n}" for n in range(generator.users[0])]
    ours_authors, plain_authors = itertools.cycle(authors[0::2]), itertools.cycle(authors[1::2])

    def record_one():
        return evaluation_event_record(
            moderator=big, platform_user_id=next(ours_authors), severity_score=0.5, context=context, embedding=vector
        )

    from pgvector.psycopg.vector import register_vector_info

    from moderation.vectors import vector_info

    connection.ensure_connection()
    pg = connection.connection
    plain = psycopg.Cursor(pg)
    register_vector_info(plain, vector_info(pg))

    def plain_insert():
        plain.execute(
            "INSERT INTO evaluation_events (moderator_id, platform_user_id, severity_score, context, embedding) "
            "VALUES (%s, %s, %s, %s, %b)",
            [big.pk, next(plain_authors), 0.5, Jsonb(context), vector],
        )

    ours_ms, plain_ms = timed_in_turns(record_one, plain_insert, 200)
    report.add(
        "single-event record latency p50",
        f"{ours_ms:.2f} ms",
        f"one plain INSERT: {plain_ms:.2f} ms",
        f"{ours_ms / plain_ms:.2f}x",
        "<= 2x",
        ours_ms / plain_ms <= 2,
    )

    # Immediate visibility: a new event (unfolded tail) is the nearest to its own vector at once.
    fresh_vector = generator.query_vectors(1, 3)[0]
    fresh = evaluation_event_record(
        moderator=big, platform_user_id="fresh", severity_score=0.5, context=context, embedding=fresh_vector
    )
    started = time.perf_counter()
    first = search(pg, fresh_vector, 1, Filters())
    visible_ms = (time.perf_counter() - started) * 1000
    seen = bool(first) and first[0][0] == fresh.pk
    report.add(
        "a new event visible to similar-content search",
        f"{'at once' if seen else 'NOT FOUND'} (first query after commit, {visible_ms:.1f} ms)",
        "-",
        "-",
        "at once",
        seen,
    )

    # The old service's rows were folded above without embeddings; embeddings backfilled onto them now must be
    # folded like any other, whatever their keys.
    backfilled = backfill_figures(report, generator, written, args.embedded_share)
    # Searches below run on a just-folded table (the visibility probe stays in the tail); the tail's own cost
    # is the next figure.
    refold = evaluation_embeddings_fold(lag_seconds=0)
    left = pending_rows()
    report.add(
        f"  ... then fold_embeddings: rows folded / rows with an embedding left unfolded ({backfilled:,} backfilled)",
        f"{refold.built.rows if refold.built else 0:,} in {refold.seconds:.1f} s / {left:,} left",
        "-",
        "-",
        "0 left",
        left == 0,
    )
    sql("ANALYZE evaluation_events")
    similar_figures(report, generator, moderator_ids, args.queries)
    tail_figure(report, generator, moderator_ids)

    # Stats: one moderator's daily counts over 30 days, largest moderator.
    stats_ms, _ = timed(lambda: EvaluationEvent.objects.bucket_counts(big.pk, "month"), 20)

    def sequential_stats():
        from django.db import transaction

        with transaction.atomic():
            sql("SET LOCAL enable_indexscan = off; SET LOCAL enable_indexonlyscan = off")
            sql("SET LOCAL enable_bitmapscan = off")
            return EvaluationEvent.objects.bucket_counts(big.pk, "month")

    seq_ms, _ = timed(sequential_stats, 3)
    report.add(
        "one moderator's daily stats over 30 days (largest)",
        f"{stats_ms:.2f} ms",
        f"sequential scan: {seq_ms:.1f} ms",
        f"{seq_ms / stats_ms:.0f}x faster",
        "<= 10 ms",
        stats_ms <= 10,
    )
    full_ms, _ = timed(lambda: moderator_stats(big.pk, "month"), 10)
    report.add("  ... evaluations + actions (moderator_stats)", f"{full_ms:.2f} ms", "-", "-", "-", None)

    board_ms, board = timed(lambda: EvaluationEvent.objects.behaviour_leaderboard(big.pk, limit=50), 10)
    users = sql("SELECT count(DISTINCT platform_user_id) FROM evaluation_events WHERE moderator_id = %s", [big.pk])[0][
        0
    ]
    report.add(
        f"behaviour leaderboard, first page, largest ({users:,} users)",
        f"{board_ms:.1f} ms",
        "-",
        "-",
        "<= 10 ms",
        board_ms <= 10,
    )

    actions = seed_actions()
    sql("VACUUM ANALYZE action_events")
    queue_figures(report, actions)

    (trends_moderator,) = create_moderators(1, first=MODERATORS)
    print(f"seeding trends: {args.trends_flagged:,} flagged events a day ...", flush=True)
    seed_trends(trends_moderator.pk, args.trends_flagged, datetime.now(UTC))
    trends_ms, trends = timed(lambda: content_trends(moderator_id=trends_moderator.pk), 2)
    report.add(
        f"trends over 24 h, {args.trends_flagged:,} flagged events ({len(trends.clusters)} clusters shown)",
        f"{trends_ms / 1000:.2f} s",
        "-",
        "-",
        "<= 2 s",
        trends_ms <= 2000,
    )

    print()
    for line in environment(conninfo):
        print(line)
    print(
        f"data: {args.events:,} evaluation events ({embedded:,} embedded, {DIMENSIONS}-d, {TOPICS} topics) and "
        f"{args.legacy_events:,} written by the old service ({backfilled:,} embeddings backfilled), "
        f"{MODERATORS} moderators (largest 5%), batches of {BATCH}; {args.queries} queries per search figure\n"
    )
    report.print()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="evaluation events seeded")
    parser.add_argument(
        "--legacy-events", type=int, default=100_000, help="evaluations the old service writes (uuid4 keys)"
    )
    parser.add_argument("--embedded-share", type=float, default=0.2, help="share of events with an embedding")
    parser.add_argument("--queries", type=int, default=20, help="queries per similar-content figure")
    parser.add_argument("--trends-flagged", type=int, default=10_000, help="flagged events per day for trends")
    args = parser.parse_args(argv)

    from bench.results import results_file
    from bench.throwaway import throwaway_database

    os.environ["DJANGO_DEBUG"] = "false"  # the parent's queries are few; the ingest child runs with DEBUG on
    with throwaway_database(DATABASE, server_settings=SERVER_SETTINGS) as conninfo, results_file("pipeline"):
        run(args, conninfo)
    return 0


if __name__ == "__main__":
    sys.exit(main())
