"""How long the old service's writes wait while `adopt_alembic_db` takes its database over beside it.

    python -m bench.takeover_beside [--events 1000000] [--rate 50]

A throwaway embedded PostgreSQL gets the old service's schema at its Alembic head (takeover.legacy_schema) and
its rows: 1,000 users (the old service's argon2id hashes, half with a sealed OAuth payload), 10 moderators,
`--events` evaluation events with uuid4 keys and a third as many action events. A writer process does what the
old service does, one autocommit statement at a time, timing each: sign a user up, record an evaluation. Meanwhile
`manage.py adopt_alembic_db` runs with GOVA_LEGACY_FORMATS=true (the beside path), as an operator runs it. Each
line the command prints is timed, so the report gives how long the legacy tables stayed locked (from its LOCK
TABLE to the commit) and how long the later migrations took, beside the writer's longest waits. It asserts
nothing about the figures; real errors exit non-zero.
"""

import argparse
import os
import subprocess
import sys
import time
import uuid

from bench.writer_process import WriterProcess

DATABASE = "bench"
LEGACY_KEY = "0123456789abcdef0123456789abcdef"  # a throwaway ENCRYPTION_KEY for the benchmark's payloads
WARM_UP_SECONDS = 2.0
COOL_DOWN_SECONDS = 2.0
USERS = 1000
MODERATORS = 10

# Server-side fills: no Python list of a million rows. `%%` because Django's cursor reads `%` as a placeholder.
LOAD_EVENTS_SQL = """
INSERT INTO evaluation_events (event_id, moderator_id, platform_user_id, severity_score, behaviour_score, context,
                               created_at)
SELECT gen_random_uuid(), (%s::uuid[])[1 + g %% %s], 'user-' || (g %% 5000), round(random()::numeric, 2),
       round(random()::numeric, 2), jsonb_build_object('content', 'message ' || g),
       date_trunc('second', now()) - g * interval '1 second'
FROM generate_series(1, %s) g
"""
LOAD_ACTIONS_SQL = """
INSERT INTO action_events (action_id, event_id, moderator_id, platform_user_id, evaluation_id, action_type,
                           action_params, context, status, reason, created_at, updated_at, executed_at)
SELECT gen_random_uuid(), gen_random_uuid(), e.moderator_id, e.platform_user_id, e.event_id, 'timeout',
       '{"duration": 60}', e.context, CASE WHEN n %% 2 = 0 THEN 'completed' ELSE 'awaiting_approval' END, 'spam',
       e.created_at, e.created_at, CASE WHEN n %% 2 = 0 THEN e.created_at END
FROM (SELECT *, row_number() OVER () AS n FROM evaluation_events) e WHERE n %% 3 = 0
"""


# -- the old service's writer (a separate process: the parent's waits never delay a statement) -----------


def writer(conninfo: dict, moderator_id: str, rate: float, ready, stop, results) -> None:
    import json
    from datetime import UTC, datetime

    import psycopg

    try:
        waits = []  # (started, seconds) of every statement
        interval = 1.0 / rate if rate > 0 else 0.0
        password = _legacy_hash("a writer's password")
        with psycopg.connect(**conninfo, autocommit=True) as conn:
            for n in range(5):  # untimed: the backend's catalog caches
                conn.execute("SELECT count(*) FROM users WHERE username = %s", [f"warm-up {n}"])
            ready.set()
            next_at, n = time.monotonic(), 0
            while not stop.is_set():
                now = datetime.now(UTC)
                for sql, params in (
                    (
                        "INSERT INTO users (user_id, username, email, password, pricing_tier, created_at, updated_at) "
                        "VALUES (%s, %s, %s, %s, 'free', %s, %s)",
                        [uuid.uuid4(), f"writer{n}", f"writer{n}@example.com", password, now, now],
                    ),
                    (
                        "INSERT INTO evaluation_events (event_id, moderator_id, platform_user_id, severity_score, "
                        "behaviour_score, context, created_at) VALUES (%s, %s, %s, 0.5, 0.25, %s, %s)",
                        [uuid.uuid4(), moderator_id, f"writer-{n}", json.dumps({"content": f"live {n}"}), now],
                    ),
                ):
                    started = time.monotonic()
                    conn.execute(sql, params)
                    waits.append((started, time.monotonic() - started))
                n += 1
                if interval:
                    next_at = max(next_at + interval, time.monotonic())
                    time.sleep(max(0.0, next_at - time.monotonic()))
        results.put({"waits": waits, "sign_ups": n})
    except Exception as exc:  # reported to the parent, which fails the run
        results.put({"error": f"{type(exc).__name__}: {exc}"})


def _legacy_hash(password: str) -> str:
    import argon2

    return argon2.PasswordHasher().hash(password)


# -- set-up ---------------------------------------------------------------------------------------------


def load(events: int) -> str:
    """The legacy schema and rows; returns one moderator's id for the writer."""
    import json

    from django.db import connection

    from accounts.legacy_formats import payload_seal
    from takeover.adoption import build_legacy_schema
    from takeover.legacy_schema import LEGACY_HEAD

    build_legacy_schema(connection)
    password = _legacy_hash("correct horse battery")  # one hash for all: argon2 costs ~0.2 s each
    user_ids = [str(uuid.uuid4()) for _ in range(USERS)]
    moderator_ids = [str(uuid.uuid4()) for _ in range(MODERATORS)]
    conf = {"guild_id": 1, "channel_ids": [1], "guild_summary": "A guild", "guidelines": "Be kind.", "actions": []}
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO alembic_version (version_num) VALUES (%s)", [LEGACY_HEAD])
        cursor.executemany(
            "INSERT INTO users (user_id, username, email, password, discord_oauth_payload, pricing_tier, created_at, "
            "updated_at) VALUES (%s, %s, %s, %s, %s, 'free', now(), now())",
            [
                (
                    user_id,
                    f"user{n}",
                    f"user{n}@example.com",
                    password,
                    payload_seal({"access_token": f"t{n}"}, user_id=user_id, key=LEGACY_KEY.encode())
                    if n % 2
                    else None,
                )
                for n, user_id in enumerate(user_ids)
            ],
        )
        cursor.executemany(
            "INSERT INTO moderators (moderator_id, user_id, name, platform, platform_server_id, conf, status, "
            "created_at) VALUES (%s, %s, %s, 'discord', %s, %s, 'online', now())",
            [(m, user_ids[n], f"moderator {n}", str(n), json.dumps(conf)) for n, m in enumerate(moderator_ids)],
        )
        cursor.execute(LOAD_EVENTS_SQL, [moderator_ids, MODERATORS, events])
        cursor.execute(LOAD_ACTIONS_SQL, [])
        loaded = time.monotonic()
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")
        cursor.execute("SELECT (SELECT count(*) FROM evaluation_events), (SELECT count(*) FROM action_events)")
        evaluations, actions = cursor.fetchone()
    connection.close()
    print(
        f"loaded {USERS:,} users, {MODERATORS} moderators, {evaluations:,} evaluation events and {actions:,} action "
        f"events in {loaded - started:.1f} s (+ VACUUM ANALYZE and CHECKPOINT {time.monotonic() - loaded:.1f} s)",
        flush=True,
    )
    return moderator_ids[0]


def adopt() -> tuple[float, list]:
    """`manage.py adopt_alembic_db` beside the old service: when it started, and (seconds since then, line) for
    every line it printed."""
    env = {**os.environ, "GOVA_LEGACY_FORMATS": "true", "GOVA_LEGACY_ENCRYPTION_KEY": LEGACY_KEY}
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "adopt_alembic_db"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    lines = [(time.monotonic() - started, line.rstrip("\n")) for line in process.stdout]
    if process.wait() != 0:
        raise RuntimeError("adopt_alembic_db failed:\n" + "\n".join(line for _, line in lines[-20:]))
    return started, lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="evaluation events loaded first")
    parser.add_argument("--rate", type=float, default=50, help="writer sign-ups (and evaluations) per second")
    args = parser.parse_args(argv)

    from bench.results import results_file
    from bench.throwaway import throwaway_database

    with throwaway_database(DATABASE) as conninfo, results_file("takeover_beside"):
        moderator_id = load(args.events)
        with WriterProcess(writer, (conninfo, moderator_id, args.rate), "writer") as writer_process:
            time.sleep(WARM_UP_SECONDS)
            started, lines = adopt()
            time.sleep(COOL_DOWN_SECONDS)
            stats = writer_process.finish(timeout=120)
        report(args, started, lines, stats)
    return 0


def report(args, started: float, lines: list, stats: dict) -> None:
    def at(prefix: str) -> float:
        return next(seconds for seconds, line in lines if line.lstrip().startswith(prefix))

    locked_from = at("LOCK TABLE")
    committed = at("adopted;")
    total = lines[-1][0]
    waits = [(moment - started, seconds) for moment, seconds in stats["waits"]]
    during = [w for w in waits if locked_from - 1 <= w[0] <= total + 1]
    longest_at, longest = max(during or waits, key=lambda w: w[1])
    print(f"\nwriter (the old service): a sign-up and an evaluation, one autocommit statement each, {args.rate:g}/s")
    print(f"  {stats['sign_ups']:,} sign-ups during the run, none failed")
    print(f"adopt_alembic_db with GOVA_LEGACY_FORMATS=true, {args.events:,} evaluation events:")
    print(f"  planning (scratch schemas, checks; no lock that blocks writers): {locked_from:.1f} s")
    print(
        f"  legacy tables locked (LOCK TABLE to commit: fingerprints, schema bridge): {committed - locked_from:.1f} s"
    )
    print(f"  later migrations (migrate, each with its own locks): {total - committed:.1f} s")
    print(f"  whole command: {total:.1f} s")
    print(f"longest writer wait: {longest:.1f} s, starting +{longest_at:.1f} s into the command")
    slow = sorted((w for w in waits if w[1] >= 0.5), key=lambda w: w[0])
    if slow:
        print("writer statements that waited 0.5 s or more (start in s, wait in s):")
        print("  " + ", ".join(f"+{moment:.1f}: {seconds:.1f}" for moment, seconds in slow[:40]))
    print("\nthe command's output, timed (s):")
    for seconds, line in lines:
        shown = line if len(line) <= 110 else line[:107] + "..."
        print(f"  {seconds:7.1f}  {shown}")


if __name__ == "__main__":
    sys.exit(main())
