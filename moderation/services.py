"""Writes to the moderation tables. Each service validates (full_clean) before it saves."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from moderation.models import ActionEvent, ActionStatus, EvaluationEvent, Moderator


@transaction.atomic
def moderator_create(
    *, user, name: str, platform_server_id: str, conf: dict, description: str | None = None
) -> Moderator:
    moderator = Moderator(
        user=user, name=name, platform_server_id=platform_server_id, conf=conf, description=description
    )
    moderator.full_clean()
    moderator.save()
    return moderator


@transaction.atomic
def evaluation_event_record(
    *, moderator: Moderator, platform_user_id: str, severity_score: float, context: dict,
    behaviour_score: float = 0.0, embedding=None,
) -> EvaluationEvent:  # fmt: skip
    """Store a scored message; scores are rounded to 2 decimals as the service always did."""
    event = EvaluationEvent(
        moderator=moderator,
        platform_user_id=platform_user_id,
        severity_score=round(severity_score, 2),
        behaviour_score=round(behaviour_score, 2),
        context=context,
        embedding=embedding,
    )
    event.full_clean()
    event.save()
    return event


@transaction.atomic
def action_event_record(
    *, evaluation: EvaluationEvent, action_type: str, params: dict | None, requires_approval: bool,
    platform_user_id: str | None = None, reason: str | None = None,
) -> ActionEvent:  # fmt: skip
    """Record an action the bot took (completed) or proposes (awaiting_approval)."""
    action = ActionEvent(
        evaluation=evaluation,
        event_id=evaluation.event_id,
        moderator_id=evaluation.moderator_id,
        platform_user_id=platform_user_id or evaluation.platform_user_id,
        action_type=action_type,
        action_params=params,
        context=evaluation.context,
        status=ActionStatus.AWAITING_APPROVAL if requires_approval else ActionStatus.COMPLETED,
        reason=reason,
        executed_at=None if requires_approval else timezone.now(),
    )
    action.full_clean()
    action.save()
    return action


def action_event_approve(*, action: ActionEvent, succeeded: bool, error_msg: str | None = None) -> ActionEvent:
    """A human approved the action and it ran: completed, or failed with error_msg."""
    status = ActionStatus.COMPLETED if succeeded else ActionStatus.FAILED
    return _leave_approval(action, status=status, executed_at=timezone.now(), error_msg=error_msg)


def action_event_reject(*, action: ActionEvent, reason: str | None = None) -> ActionEvent:
    """A human rejected the action; it never runs."""
    return _leave_approval(action, status=ActionStatus.REJECTED, reason=reason or action.reason)


def _leave_approval(action: ActionEvent, **changes) -> ActionEvent:
    # A conditional UPDATE: of two reviewers deciding at once, exactly one wins.
    changes["updated_at"] = timezone.now()
    updated = ActionEvent.objects.filter(pk=action.pk, status=ActionStatus.AWAITING_APPROVAL).update(**changes)
    if not updated:
        current = ActionEvent.objects.filter(pk=action.pk).values_list("status", flat=True).first()
        raise ValidationError(
            f"action {action.pk} is {current or 'gone'}, not awaiting approval: only awaiting actions can be decided",
            code="invalid_transition",
        )
    for name, value in changes.items():
        setattr(action, name, value)
    return action
