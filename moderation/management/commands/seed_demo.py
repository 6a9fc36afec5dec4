import time

from django.core.management.base import BaseCommand, CommandError

from dbops.backups import progress_printer
from moderation import demo_data


class Command(BaseCommand):
    help = (
        "Fill the database with realistic, reproducible demo data: users, moderators, N evaluation events "
        "(COPY; 1,000,000 take minutes), actions in every status and their reviews."
    )

    def add_arguments(self, parser):
        parser.add_argument("--events", type=int, default=10_000, help="evaluation events to add (default 10,000)")
        parser.add_argument("--seed", type=int, default=42, help="random seed: the same seed gives the same rows")
        parser.add_argument("--moderators", type=int, help="moderators (default: one per 20,000 events, 3 to 200)")
        parser.add_argument("--days", type=int, default=90, help="the events span this many days up to today")
        parser.add_argument(
            "--embedded-fraction", type=float, default=0.02, help="share of events with a 1024-d embedding (0.02)"
        )
        parser.add_argument("--action-ratio", type=float, default=0.2, help="about this share of events get an action")
        parser.add_argument(
            "--legacy-events",
            type=int,
            default=0,
            help="the oldest N events and their actions keyed uuid4 with whole-second times, as the old service "
            "writes them (a taken-over database; default 0)",
        )

    def handle(
        self, *args, events, seed: int, moderators, days, embedded_fraction, action_ratio, legacy_events, **options
    ):
        if events < 1:
            raise CommandError(f"--events must be at least 1, not {events}")
        if not 0 <= embedded_fraction <= 1:
            raise CommandError(f"--embedded-fraction must be between 0 and 1, not {embedded_fraction}")
        if not 0 < action_ratio < 0.5:
            raise CommandError(f"--action-ratio must be between 0 and 0.5, not {action_ratio}")
        if days < 1:
            raise CommandError(f"--days must be at least 1, not {days}")
        if not 0 <= legacy_events <= events:
            raise CommandError(f"--legacy-events must be between 0 and --events ({events:,}), not {legacy_events:,}")
        started = time.monotonic()
        result = demo_data.seed(
            events=events, seed=seed, moderators=moderators, days=days, embedded_fraction=embedded_fraction,
            action_ratio=action_ratio, legacy_events=legacy_events, progress=progress_printer(self.stderr),
            say=self.stderr.write,
        )  # fmt: skip
        actions = ", ".join(f"{status} {count:,}" for status, count in result.actions.items())
        self.stdout.write(
            f"seeded in {time.monotonic() - started:.0f} s: {result.users:,} users, {result.moderators:,} moderators, "
            f"{result.evaluations:,} evaluation events ({result.embeddings:,} with embeddings), actions: {actions}, "
            f"{result.reviews:,} reviews"
        )
