"""How fast the admin's pages answer with 1,000,000 evaluation events and ~200,000 actions.

    python -m bench.admin_pages [--events 1000000] [--history adopted|new] [--runs 5]   (part of `make bench`)
    GOVA_BENCH_PGDATA=/var/tmp/gova-bench python -m bench.admin_pages                    (reuse a seeded folder)

A throwaway embedded PostgreSQL in a temporary folder gets the schema (`migrate`) and `seed_demo`
data (or, with GOVA_BENCH_PGDATA, a folder seeded by an earlier run is reused, and kept). The history is, by
default, a database taken over from the old service: --events events keyed uuid4 with whole-second times (the
old service's, spread over 90 days), then a tenth as many keyed uuidv7 (this project's, the newest); with
`--history new`, --events events keyed uuidv7 only. Each page
is requested in-process with Django's test client as a superuser: one warm-up request, then the
median of --runs. Every figure is printed against the admin index page measured in the same run,
with the number of queries. It prints; it asserts nothing about the timings.
"""

import argparse
import os
import statistics
import sys
import time

DATABASE = "bench"


def pages(client):
    """(label, url) for each page measured; ids come from the seeded data."""
    from django.db import connection
    from django.urls import reverse

    from moderation.models import NEWEST_FIRST, ActionEvent, EvaluationEvent, Moderator
    from moderation.paginators import OLDER_VAR, older_cursor

    evaluations = reverse("admin:moderation_evaluationevent_changelist")
    actions = reverse("admin:moderation_actionevent_changelist")
    evaluation = EvaluationEvent.objects.order_by(*NEWEST_FIRST).only("pk", "platform_user_id", "created_at").first()
    action = ActionEvent.objects.filter(status="rejected").order_by(*NEWEST_FIRST).only("pk", "created_at").first()
    with connection.cursor() as cursor:
        # The busiest moderator, from a 0.1% sample instead of a GROUP BY over the table (a small table,
        # whose sample can be empty, is counted whole).
        for sample in ("TABLESAMPLE SYSTEM (0.1)", ""):
            cursor.execute(
                f"SELECT moderator_id FROM evaluation_events {sample} GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            )
            row = cursor.fetchone()
            if row:
                break
        busiest = Moderator.objects.get(pk=row[0])

    def deep(rows) -> str:
        """`older=` at the row after which only the oldest 1% of `rows` (by time) are left: a keyset page that deep."""
        oldest_first = rows.order_by("created_at", "pk").only("pk", "created_at")
        return f"{OLDER_VAR}={older_cursor(oldest_first[min(rows.count(), 1_000_000) // 100])}"

    return [
        ("admin index (baseline)", reverse("admin:index")),
        ("evaluations: page 1", evaluations),
        ("evaluations: page 100 (last numbered)", f"{evaluations}?p=100"),
        ("evaluations: the oldest 1% (keyset)", f"{evaluations}?{deep(EvaluationEvent.objects.all())}"),
        ("evaluations: search platform user id", f"{evaluations}?q={evaluation.platform_user_id}"),
        ("evaluations: search server id", f"{evaluations}?q={busiest.platform_server_id}"),
        ("evaluations: severity high", f"{evaluations}?severity=high"),
        ("evaluations: created in the past 7 days", f"{evaluations}?created=7d"),
        ("evaluations: one moderator", f"{evaluations}?moderator__moderator_id__exact={busiest.pk}"),
        (
            "evaluations: one moderator, its oldest 1% (keyset)",
            f"{evaluations}?moderator__moderator_id__exact={busiest.pk}&"
            f"{deep(EvaluationEvent.objects.filter(moderator=busiest))}",
        ),
        ("evaluation: change page", reverse("admin:moderation_evaluationevent_change", args=[evaluation.pk])),
        ("actions: page 1", actions),
        ("actions: status rejected, page 20 (last numbered)", f"{actions}?status__exact=rejected&p=20"),
        ("actions: the oldest 1% (keyset)", f"{actions}?{deep(ActionEvent.objects.all())}"),
        ("actions: search platform user id", f"{actions}?q={evaluation.platform_user_id}"),
        ("action: change page", reverse("admin:moderation_actionevent_change", args=[action.pk])),
        ("review queue", reverse("admin:moderation_reviewqueueitem_changelist")),
        ("moderators", reverse("admin:moderation_moderator_changelist")),
        ("moderator: busiest, with insight", reverse("admin:moderation_moderator_change", args=[busiest.pk])),
        ("users", reverse("admin:accounts_user_changelist")),
    ]


def measure(client, url: str, runs: int) -> tuple[float, int, int]:
    """Median milliseconds over `runs` after one warm-up request, the query count, and the status code."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)
    timings = []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings), len(queries.captured_queries), response.status_code


def key_mix() -> str:
    """The share of each key version among the events, from a 1% sample (the whole table when that is empty)."""
    from django.db import connection

    lines = []
    with connection.cursor() as cursor:
        for table, key in (("evaluation_events", "event_id"), ("action_events", "action_id")):
            for sample in ("TABLESAMPLE SYSTEM (1)", ""):
                # The version is the 13th hex digit (PostgreSQL 16 has no uuid_extract_version()).
                cursor.execute(f"SELECT substr({key}::text, 15, 1), count(*) FROM {table} {sample} GROUP BY 1")
                counts = dict(cursor.fetchall())
                if counts:
                    break
            total = sum(counts.values()) or 1
            mix = ", ".join(f"uuid{version or '?'} {count / total:.0%}" for version, count in sorted(counts.items()))
            lines.append(f"{table}: {mix}")
    return "keys: " + "; ".join(lines)


def run(runs: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import Client

    admin = get_user_model().objects.filter(is_superuser=True).first()
    if admin is None:
        admin = get_user_model().objects.create_superuser("bench-admin", "bench-admin@example.com", None)
    client = Client()
    client.force_login(admin)
    print(key_mix())
    results = [(label, *measure(client, url, runs)) for label, url in pages(client)]
    baseline = results[0][1]
    print(f"\nmedian of {runs} requests each (after one warm-up), in-process test client, superuser")
    print(f"{'page':<50} {'ms':>8} {'x index':>8} {'queries':>8} {'status':>7}")
    for label, ms, queries, status in results:
        print(f"{label:<50} {ms:>8.1f} {ms / baseline:>8.1f} {queries:>8} {status:>7}")
    slowest = max(results[1:], key=lambda row: row[1])
    print(f"\nslowest page: {slowest[0]} at {slowest[1]:.0f} ms ({slowest[1] / baseline:.1f}x the admin index)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events",
        type=int,
        default=1_000_000,
        help="evaluation events seeded (the old service's, with --history adopted)",
    )
    parser.add_argument(
        "--history",
        choices=("adopted", "new"),
        default="adopted",
        help="adopted: --events keyed uuid4 by the old service, then a tenth as many keyed uuidv7 (default); "
        "new: --events keyed uuidv7",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed requests per page")
    args = parser.parse_args(argv)

    from bench.results import results_file
    from bench.throwaway import throwaway_database

    # GOVA_BENCH_PGDATA: a folder seeded by an earlier run, reused and kept.
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    with throwaway_database(DATABASE, reuse_folder=os.environ.get("GOVA_BENCH_PGDATA")), results_file("admin_pages"):
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from moderation.models import EvaluationEvent

        if not EvaluationEvent.objects.exists():
            started = time.monotonic()
            legacy = args.events if args.history == "adopted" else 0
            events = args.events + legacy // 10
            call_command("seed_demo", events=events, legacy_events=legacy)
            print(
                f"seeded {events:,} events ({legacy:,} keyed uuid4 by the old service) in "
                f"{time.monotonic() - started:.0f} s",
                flush=True,
            )
        run(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
