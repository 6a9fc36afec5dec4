"""How long a continuous writer stalls while a migration adds a column and an index to evaluation_events.

    python -m bench.migration_stall [--rows 1000000] [--rate 200]      (or `make bench`)

A throwaway embedded PostgreSQL in a temporary folder gets the schema (`migrate`) and N events in
bench_stall_events, the fixture app bench.stallapp's copy of evaluation_events (same columns, foreign
key and B-tree indexes). A writer process inserts one event at a time, timing every insert, through
three phases:

    baseline  nothing else happens;
    naive     Django's default: `migrate stallapp 0002` with Django's own migrate command, AddField +
              AddIndex in one atomic migration, no lock_timeout, so the ACCESS EXCLUSIVE lock of ADD
              COLUMN is held until the plain CREATE INDEX has scanned the whole table, and every insert
              waits for the build;
    ours      the house way: `migrate stallapp 0005` with the project's migrate (advisory lock,
              lock_timeout, maintenance_work_mem), AddField in its own migration (a catalog-only
              change, the lock lasts milliseconds), then AddIndexConcurrently in a non-atomic
              migration, whose SHARE UPDATE EXCLUSIVE lock lets inserts through while it builds.

Both are real migration files (bench/stallapp/migrations) run by `call_command("migrate")`. It prints
the timings; it asserts nothing about them. Real errors exit non-zero.
"""

import argparse
import sys
import time
import uuid
from array import array

from bench.writer_process import WriterProcess

DATABASE = "bench"
TARGET_MS = 1000
WARM_UP_SECONDS = 2.0  # writer running, prepared statement warm, before the migration starts
COOL_DOWN_SECONDS = 1.0  # catches inserts that queued behind the migration's last lock
BASELINE_SECONDS = 5.0

# One statement, all server-side: no Python list of a million rows. event_id comes from uuidv7().
# `%%` because Django's cursor reads `%` as a placeholder when params are given.
LOAD_SQL = """
INSERT INTO bench_stall_events (moderator_id, platform_user_id, severity_score, behaviour_score, context, created_at)
SELECT %s, 'user-' || (g %% 5000), random(), random(), jsonb_build_object('content', 'message ' || g),
       now() - g * interval '1 second'
FROM generate_series(1, %s) g
"""

WRITER_SQL = """
INSERT INTO bench_stall_events (moderator_id, platform_user_id, severity_score, behaviour_score, context)
VALUES (%s, %s, %s, %s, %s)
"""


# -- the writer (a separate process, so the parent's GIL and sleeps never delay an insert) ---------


def writer(conninfo: dict, moderator_id: str, rate: float, ready, stop, results) -> None:
    """Insert one event at a time until `stop` is set; put the latency summary on `results`."""
    import psycopg
    from psycopg.types.json import Jsonb

    try:
        latencies = array("d")  # seconds; ~200/s for ~20 s is a few thousand doubles
        longest, longest_at = 0.0, 0.0
        interval = 1.0 / rate if rate > 0 else 0.0
        moderator = uuid.UUID(moderator_id)
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            # Untimed: the first inserts load the backend's catalog caches and, from the fifth on,
            # run as a prepared statement; a live service's connections are long past that.
            for n in range(10):
                conn.execute(WRITER_SQL, (moderator, "writer-warm-up", 0.5, 0.25, Jsonb({"content": f"warm-up {n}"})))
            ready.set()
            next_at = time.monotonic()
            n = 0
            while not stop.is_set():
                params = (moderator, f"writer-{n % 5000}", 0.5, 0.25, Jsonb({"content": f"live {n}"}))
                started = time.monotonic()
                conn.execute(WRITER_SQL, params)
                elapsed = time.monotonic() - started
                latencies.append(elapsed)
                if elapsed > longest:
                    longest, longest_at = elapsed, started
                n += 1
                if interval:
                    # Steady pace without catch-up bursts: after a stall the next insert goes at once,
                    # then the schedule restarts from now.
                    next_at = max(next_at + interval, time.monotonic())
                    time.sleep(max(0.0, next_at - time.monotonic()))
        ordered = sorted(latencies)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0
        # CLOCK_MONOTONIC is system-wide on Linux, so the parent can place longest_at in its phase.
        results.put({"inserts": len(ordered), "p99": p99, "longest": longest, "longest_at": longest_at})
    except Exception as exc:  # reported to the parent, which fails the run
        results.put({"error": f"{type(exc).__name__}: {exc}"})


class Phase:
    def __init__(self, name: str, stats: dict, started: float, migration_window: tuple[float, float], statements):
        self.name = name
        self.inserts = stats["inserts"]
        self.p99_ms = stats["p99"] * 1000
        self.longest_ms = stats["longest"] * 1000
        self.longest_at = stats["longest_at"] - started
        self.migration_from, self.migration_to = (moment - started for moment in migration_window)
        self.statements = statements  # [(sql, seconds)] as the schema editor ran them

    @property
    def migration_seconds(self) -> float:
        return self.migration_to - self.migration_from


def measure(name: str, conninfo: dict, moderator_id, rate: float, action) -> Phase:
    """Run `action` (returning the statements it ran) with the writer inserting before, during and after."""
    with WriterProcess(writer, (conninfo, str(moderator_id), rate), f"writer-{name}") as writer_process:
        started = time.monotonic()
        time.sleep(WARM_UP_SECONDS)
        migration_from = time.monotonic()
        statements = action()
        migration_to = time.monotonic()
        time.sleep(COOL_DOWN_SECONDS)
        stats = writer_process.finish(timeout=60)
    return Phase(name, stats, started, (migration_from, migration_to), statements)


# -- the migrations, through Django's operations ---------------------------------------------------


# What the report lists: the schema changes and the session settings, not migrate's bookkeeping queries.
SHOWN_STATEMENTS = ("ALTER", "CREATE", "DROP", "SET", "RESET", "SELECT set_config", "SELECT pg_advisory")


def statement_recorder():
    """An execute wrapper that keeps each schema statement migrate runs, with its duration."""
    statements = []

    def record(execute, sql, params, many, context):
        started = time.monotonic()
        try:
            return execute(sql, params, many, context)
        finally:
            if sql.lstrip().startswith(SHOWN_STATEMENTS):
                statements.append((" ".join(sql.split()), time.monotonic() - started))

    return statements, record


def migrate_recording(command, target: str) -> list:
    """Run `migrate stallapp <target>` with `command`, returning the statements it ran."""
    from django.core.management import call_command
    from django.db import connection

    statements, record = statement_recorder()
    with connection.execute_wrapper(record):
        call_command(command, "stallapp", target, verbosity=0)
    return statements


def naive_migration() -> list:
    from django.core.management.commands.migrate import Command as DjangoMigrate
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = 0")  # the server default: wait for a lock as long as it takes
    return migrate_recording(DjangoMigrate(), "0002_naive_column_and_index")


def our_migration() -> list:
    return migrate_recording("migrate", "0005_add_index_concurrently")


def undo_naive_migration() -> None:
    """Drop the naive column and index, so the house migration starts from the same table."""
    from django.core.management import call_command

    call_command("migrate", "stallapp", "0003_undo_naive", verbosity=0)


def idle() -> list:
    time.sleep(BASELINE_SECONDS)
    return []


# -- set-up and report ----------------------------------------------------------------------------


def load_events(rows: int):
    """One user, one moderator, then `rows` events in one INSERT … SELECT; returns the moderator's id."""
    from django.db import connection

    from accounts.models import User
    from moderation.services import moderator_create

    user = User.objects.create_user(username="bench", email="bench@example.com")
    conf = {
        "guild_id": 1, "channel_ids": [1], "guild_summary": "A benchmark guild", "guidelines": "Be kind to each other.",
        "actions": [{"type": "reply", "requires_approval": False}],
    }  # fmt: skip
    moderator = moderator_create(user=user, name="bench", platform_server_id="1", conf=conf)
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(LOAD_SQL, [moderator.pk, rows])
        loaded = time.monotonic()
        # Fresh statistics and visibility map, as on a table autovacuum has kept up with.
        cursor.execute("VACUUM ANALYZE bench_stall_events")
        # Flush the load's dirty pages now, not during a measurement.
        cursor.execute("CHECKPOINT")
    print(
        f"loaded {rows:,} events into bench_stall_events in {loaded - started:.1f} s "
        f"(+ VACUUM ANALYZE and CHECKPOINT {time.monotonic() - loaded:.1f} s)",
        flush=True,
    )
    return moderator.pk


def report(rows: int, rate: float, phases: list[Phase]) -> None:
    baseline = phases[0]
    pace = f"{rate:g} inserts/s" if rate > 0 else "as fast as it can"
    print(f"\nwriter: one autocommit INSERT at a time, {pace}; rows before the run: {rows:,}")
    print(f"{'phase':<9} {'inserts':>8} {'p99 ms':>8} {'longest ms':>11} {'x baseline':>11} {'migration s':>12}")
    for phase in phases:
        ratio = phase.longest_ms / baseline.longest_ms if baseline.longest_ms else float("nan")
        migration = f"{phase.migration_seconds:.2f}" if phase.statements else "-"
        print(
            f"{phase.name:<9} {phase.inserts:>8,} {phase.p99_ms:>8.1f} {phase.longest_ms:>11.1f} "
            f"{ratio:>11.1f} {migration:>12}"
        )
    for phase in phases[1:]:
        print(
            f"\n{phase.name}: migration ran from +{phase.migration_from:.2f} s to +{phase.migration_to:.2f} s "
            f"of the phase; the longest insert started at +{phase.longest_at:.2f} s"
        )
        for sql, seconds in phase.statements:
            shown = sql if len(sql) <= 100 else sql[:97] + "..."
            print(f"  {seconds * 1000:9.1f} ms  {shown}")
    ours = phases[-1]
    verdict = "OK" if ours.longest_ms < TARGET_MS else "NOT MET"
    print(
        f"\nlongest writer stall while migrating (ours): {ours.longest_ms:.0f} ms — target < {TARGET_MS} ms: {verdict}"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="evaluation events loaded first")
    parser.add_argument("--rate", type=float, default=200, help="writer inserts per second; 0 = as fast as it can")
    args = parser.parse_args(argv)

    from bench.results import results_file
    from bench.throwaway import throwaway_database

    # bench.settings: the project's, plus the fixture app bench.stallapp.
    with throwaway_database(DATABASE, settings_module="bench.settings") as conninfo, results_file("migration_stall"):
        from django.core.management import call_command

        call_command("migrate", "stallapp", "0001_initial", verbosity=0)  # the phases apply the rest
        moderator_id = load_events(args.rows)

        phases = [measure("baseline", conninfo, moderator_id, args.rate, idle)]
        phases.append(measure("naive", conninfo, moderator_id, args.rate, naive_migration))
        undo_naive_migration()
        phases.append(measure("ours", conninfo, moderator_id, args.rate, our_migration))
        report(args.rows, args.rate, phases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
