"""Moderator stats with empty buckets filled; the behaviour leaderboard and one user's history."""

from datetime import UTC, datetime, timedelta

import pytest

from moderation.models import EvaluationEvent
from moderation.stats import moderator_stats
from tests.factories import ActionEventFactory, EvaluationEventFactory, ModeratorFactory

NOW = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)


@pytest.mark.django_db
def test_week_stats_fill_quiet_days_with_zero_and_total_both_tables():
    moderator = ModeratorFactory()
    for days_ago in (0, 0, 3, 9):  # the last one is outside the week
        EvaluationEventFactory(moderator=moderator, created_at=NOW - timedelta(days=days_ago, hours=1))
    evaluation = EvaluationEventFactory(moderator=moderator, created_at=NOW - timedelta(days=40))
    ActionEventFactory(evaluation=evaluation, created_at=NOW - timedelta(days=3, hours=2))
    EvaluationEventFactory(created_at=NOW)  # another moderator's
    stats = moderator_stats(moderator.pk, "week", end=NOW)
    assert stats["bucket"] == "day"
    assert [b.date().isoformat() for b in stats["buckets"]] == [f"2026-11-{d}" for d in range(19, 27)]
    assert stats["evaluations"] == [0, 0, 0, 0, 1, 0, 0, 2]
    assert stats["actions"] == [0, 0, 0, 0, 1, 0, 0, 0]
    assert stats["totals"] == {"evaluations": 3, "actions": 1}
    year = moderator_stats(moderator.pk, "year", end=NOW)
    assert len(year["buckets"]) == 13 and year["totals"]["evaluations"] == 5  # Nov 2025 .. Nov 2026
    with pytest.raises(ValueError, match="window must be one of week, month, year"):
        moderator_stats(moderator.pk, "decade")


@pytest.mark.django_db
def test_leaderboard_pages_latest_scores_both_ways_and_history():
    moderator = ModeratorFactory()
    scores = {"ana": [0.9, 0.2], "bo": [0.5], "cy": [0.1, 0.7], "di": [0.3]}
    for user, history in scores.items():
        for n, score in enumerate(history):
            EvaluationEventFactory(
                moderator=moderator, platform_user_id=user, behaviour_score=score, created_at=NOW + timedelta(hours=n)
            )
    EvaluationEventFactory(platform_user_id="ana", behaviour_score=1.0)  # another moderator's
    board = EvaluationEvent.objects.behaviour_leaderboard
    assert [(r["platform_user_id"], r["behaviour_score"]) for r in board(moderator.pk, limit=2)] == [
        ("cy", 0.7),
        ("bo", 0.5),
    ]
    assert [r["platform_user_id"] for r in board(moderator.pk, limit=2, offset=2)] == ["di", "ana"]
    assert [r["platform_user_id"] for r in board(moderator.pk, descending=False)] == ["ana", "di", "bo", "cy"]
    latest = EvaluationEvent.objects.latest_behaviour_scores(moderator.pk)
    assert [(e.platform_user_id, e.behaviour_score) for e in latest] == [
        ("cy", 0.7),
        ("bo", 0.5),
        ("di", 0.3),
        ("ana", 0.2),
    ]
    history = list(EvaluationEvent.objects.behaviour_history(moderator.pk, "ana"))
    assert [row["behaviour_score"] for row in history] == [0.2, 0.9]
    assert board(ModeratorFactory().pk) == []
