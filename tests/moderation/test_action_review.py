import pytest
from django.core.exceptions import ValidationError

from moderation.models import ActionEvent, ActionStatus
from moderation.services import action_event_approve, action_event_record, action_event_reject, evaluation_event_record
from tests.factories import ActionEventFactory, ModeratorFactory, message_context


@pytest.mark.django_db
def test_recorded_actions_wait_for_approval_or_are_completed():
    evaluation = evaluation_event_record(
        moderator=ModeratorFactory(), platform_user_id="u-1", severity_score=0.876, context=message_context()
    )
    assert evaluation.severity_score == 0.88  # rounded to 2 decimals
    waiting = action_event_record(
        evaluation=evaluation, action_type="kick", params={"user_id": "u-1"}, requires_approval=True
    )
    done = action_event_record(
        evaluation=evaluation, action_type="reply", params={"content": "hi"}, requires_approval=False
    )
    assert (waiting.status, waiting.executed_at) == (ActionStatus.AWAITING_APPROVAL, None)
    assert done.status == ActionStatus.COMPLETED and done.executed_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("decide", "expected"),
    [
        (lambda action: action_event_approve(action=action, succeeded=True), ActionStatus.COMPLETED),
        (
            lambda action: action_event_approve(action=action, succeeded=False, error_msg="missing permission"),
            ActionStatus.FAILED,
        ),
        (lambda action: action_event_reject(action=action, reason="false positive"), ActionStatus.REJECTED),
    ],
)
def test_an_awaiting_action_is_decided_once(decide, expected):
    action = ActionEventFactory()
    decide(action)
    stored = ActionEvent.objects.get(pk=action.pk)
    assert stored.status == expected
    assert (stored.executed_at is not None) == (expected != ActionStatus.REJECTED)
    with pytest.raises(ValidationError, match=f"is {expected}, not awaiting approval"):
        decide(stored)


@pytest.mark.django_db
def test_evaluation_service_refuses_out_of_range_scores_with_a_clear_error():
    with pytest.raises(ValidationError, match="severity_score"):
        evaluation_event_record(
            moderator=ModeratorFactory(), platform_user_id="u", severity_score=1.2, context=message_context()
        )
