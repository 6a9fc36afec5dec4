"""Content trends find a planted cluster of similar flagged messages and its growth."""

from datetime import timedelta

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from moderation.ingest import EvaluationInput
from moderation.models import EMBEDDING_DIMENSIONS
from moderation.services import evaluation_events_record
from moderation.trends import content_trends
from tests.factories import ModeratorFactory

# Relative to the clock, so the windows hold the planted events on any date; to the second, so --until
# below (which prints to the minute) and the function see the same end.
END = timezone.now().replace(microsecond=0) - timedelta(days=3)


def unit(rng, centre=None, spread=0.3):
    vector = rng.normal(size=EMBEDDING_DIMENSIONS)
    vector /= np.linalg.norm(vector)
    if centre is not None:
        vector = centre + spread * vector
    return vector / np.linalg.norm(vector)


@pytest.mark.django_db(transaction=True)
def test_a_planted_cluster_is_found_with_its_growth_message_and_authors(capsys):
    rng = np.random.default_rng(11)
    moderator, other = ModeratorFactory(), ModeratorFactory()
    spam = unit(rng)

    def event(user, severity, vector, hours_ago, content):
        return EvaluationInput(
            moderator.pk, user, severity, {"content": content}, vector, created_at=END - timedelta(hours=hours_ago)
        )

    events = [
        event(["spammer", "spammer", "alt"][i % 3], 0.9, unit(rng, spam), 1 + i % 20, "buy cheap coins")
        for i in range(30)
    ]
    events += [event("spammer", 0.9, unit(rng, spam), 30, "buy cheap coins") for _ in range(3)]  # the day before
    events += [event(f"u{i}", 0.9, unit(rng), 5, f"noise {i}") for i in range(40)]  # unrelated flagged messages
    events += [event("calm", 0.1, unit(rng, spam), 2, "buy cheap coins") for _ in range(10)]  # not flagged
    events.append(
        EvaluationInput(other.pk, "x", 0.9, {"content": "elsewhere"}, unit(rng, spam), END - timedelta(hours=1))
    )
    evaluation_events_record(events=events)

    trends = content_trends(moderator_id=moderator.pk, end=END)
    assert trends.flagged == 73
    (cluster,) = trends.clusters  # the noise makes clusters of one, under min_size
    assert (cluster.size, cluster.previous, cluster.growth) == (30, 3, 10.0)
    assert cluster.representative_message == "buy cheap coins"
    assert cluster.top_authors == [("spammer", 20), ("alt", 10)]
    assert trends.chart() == {"labels": ["buy cheap coins"], "current": [30], "previous": [3]}

    call_command("trends", "--moderator", str(moderator.pk), "--window", "24h", "--until", END.isoformat())
    output = capsys.readouterr().out
    headline = f"73 flagged events (severity >= 0.7) in the 24h and the 24h before, until {END:%Y-%m-%d %H:%M} UTC"
    assert headline in output
    assert "buy cheap coins" in output and "spammer (20), alt (10)" in output
    call_command("trends", "--moderator", str(moderator.pk), "--window", "24h")  # ends now: nothing flagged
    assert "0 flagged events" in capsys.readouterr().out
    with pytest.raises(CommandError, match="--until must be an ISO 8601"):
        call_command("trends", "--moderator", str(moderator.pk), "--until", "yesterday")
    with pytest.raises(CommandError, match="--until must be an ISO 8601"):
        call_command("trends", "--moderator", str(moderator.pk), "--until", "2026-02-30")
    with pytest.raises(CommandError, match="--window must look like"):
        call_command("trends", "--moderator", str(moderator.pk), "--window", "soon")
    with pytest.raises(CommandError, match="no moderator"):
        call_command("trends", "--moderator", "not-a-uuid")
