import re
import uuid
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime

from moderation.models import Moderator
from moderation.trends import DEFAULT_SIMILARITY, DEFAULT_THRESHOLD, content_trends

UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_window(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([mhd])", text.strip())
    if not match or int(match[1]) == 0:
        raise CommandError(f"--window must look like 30m, 24h or 7d, not {text!r}")
    return timedelta(**{UNITS[match[2]]: int(match[1])})


def parse_until(text: str) -> datetime:
    """An ISO 8601 date or date-time; one without an offset is UTC (a date is its midnight)."""
    try:
        moment = parse_datetime(text.strip())
        if moment is None and (day := parse_date(text.strip())) is not None:
            moment = datetime(day.year, day.month, day.day)
    except ValueError:  # well formed but not a real date: 2026-02-30
        moment = None
    if moment is None:
        raise CommandError(f"--until must be an ISO 8601 date or time such as 2026-11-26T12:00Z, not {text!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Clusters of similar flagged content of one moderator: this window against the one before."

    def add_arguments(self, parser):
        parser.add_argument("--moderator", required=True, help="moderator id")
        parser.add_argument("--window", default="24h", help="window length: 30m, 24h, 7d (default 24h)")
        parser.add_argument(
            "--until", help="end of the window, ISO 8601 (2026-11-26T12:00Z; UTC without an offset); default: now"
        )
        parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="severity counted as flagged")
        parser.add_argument("--similarity", type=float, default=DEFAULT_SIMILARITY, help="cosine similarity to join")
        parser.add_argument("--top", type=int, default=10, help="clusters shown")

    def handle(self, *args, moderator, window, until, threshold, similarity, top, **options):
        length = parse_window(window)
        end = parse_until(until) if until else None
        try:
            moderator = uuid.UUID(moderator)
        except ValueError:
            raise CommandError(f"no moderator {moderator!r}: a moderator id is a UUID") from None
        name = Moderator.objects.filter(pk=moderator).values_list("name", flat=True).first()
        if name is None:
            raise CommandError(f"no moderator {moderator}")
        trends = content_trends(
            moderator_id=moderator, window=length, end=end, threshold=threshold, similarity=similarity, top=top
        )
        self.stdout.write(
            f"{name}: {trends.flagged:,} flagged events (severity >= {threshold}) in the {window} and the "
            f"{window} before, until {trends.end.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        )
        if not trends.clusters:
            self.stdout.write("no cluster of similar flagged content")
            return
        self.stdout.write(
            f"{'#':>2} {'now':>6} {'before':>6} {'growth':>7}  {'top authors':<32} representative message"
        )
        for number, cluster in enumerate(trends.clusters, 1):
            growth = "new" if cluster.growth is None else f"x{cluster.growth:.1f}"
            authors = ", ".join(f"{author} ({count})" for author, count in cluster.top_authors)
            message = " ".join(cluster.representative_message.split())
            message = message if len(message) <= 60 else message[:57] + "..."
            self.stdout.write(
                f"{number:>2} {cluster.size:>6} {cluster.previous:>6} {growth:>7}  {authors[:32]:<32} {message}"
            )
