"""The service's read paths: activity per day/week/month, latest behaviour score per user, actions by status."""

from datetime import UTC, datetime

import pytest

from moderation.models import ActionEvent, ActionStatus, EvaluationEvent
from tests.factories import ActionEventFactory, EvaluationEventFactory, ModeratorFactory


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


@pytest.mark.django_db
def test_activity_counts_per_day_week_and_month():
    moderator = ModeratorFactory()
    for created in [at(2), at(2, 18), at(3), at(10)]:  # Mon 2 Nov, Mon 2 Nov, Tue 3 Nov, Tue 10 Nov
        EvaluationEventFactory(moderator=moderator, created_at=created)
    EvaluationEventFactory(created_at=at(2))  # another moderator's

    def counts(period):
        return [
            (row["bucket"].date().isoformat(), row["count"])
            for row in EvaluationEvent.objects.activity(moderator.pk, period)
        ]

    assert counts("day") == [("2026-11-02", 2), ("2026-11-03", 1), ("2026-11-10", 1)]
    assert counts("week") == [("2026-11-02", 3), ("2026-11-09", 1)]
    assert counts("month") == [("2026-11-01", 4)]


@pytest.mark.django_db
def test_action_activity_and_bad_period():
    action = ActionEventFactory(created_at=at(5))
    assert [row["count"] for row in ActionEvent.objects.activity(action.moderator_id, "week")] == [1]
    with pytest.raises(ValueError, match="period must be one of day, week, month"):
        ActionEvent.objects.activity(action.moderator_id, "year")


@pytest.mark.django_db
def test_latest_behaviour_score_per_user_sorted_highest_first():
    moderator = ModeratorFactory()
    EvaluationEventFactory(moderator=moderator, platform_user_id="ana", behaviour_score=0.9, created_at=at(1))
    EvaluationEventFactory(moderator=moderator, platform_user_id="ana", behaviour_score=0.2, created_at=at(4))
    EvaluationEventFactory(moderator=moderator, platform_user_id="bo", behaviour_score=0.5, created_at=at(3))
    EvaluationEventFactory(platform_user_id="ana", behaviour_score=1.0)  # another moderator's
    latest = [
        (event.platform_user_id, event.behaviour_score)
        for event in EvaluationEvent.objects.latest_behaviour_scores(moderator.pk)
    ]
    assert latest == [("bo", 0.5), ("ana", 0.2)]


@pytest.mark.django_db
def test_for_moderator_lists_newest_first_and_filters_actions_by_status():
    moderator = ModeratorFactory()
    older, newer = EvaluationEventFactory(moderator=moderator), EvaluationEventFactory(moderator=moderator)
    EvaluationEventFactory()  # another moderator's
    assert list(EvaluationEvent.objects.for_moderator(moderator.pk)) == [newer, older]
    waiting = ActionEventFactory(evaluation=older)
    done = ActionEventFactory(evaluation=newer, status=ActionStatus.COMPLETED)
    assert list(ActionEvent.objects.for_moderator(moderator.pk)) == [done, waiting]
    assert list(ActionEvent.objects.for_moderator(moderator.pk, status=ActionStatus.AWAITING_APPROVAL)) == [waiting]
