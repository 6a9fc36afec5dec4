"""Writes to the moderation tables. Each service validates (full_clean) before it saves."""

from typing import Protocol

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from moderation.models import ActionEvent, ActionReview, ActionStatus, EvaluationEvent, Moderator
from moderation.validators import validate_action_params


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


class ActionExecutionFailed(Exception):
    """The platform could not carry out an approved action; the message is stored as its error_msg."""


class ActionExecutor(Protocol):
    """Carries out an approved action on its platform (Discord). Raise ActionExecutionFailed on a refusal.

    It runs inside the decision's transaction, with the action's row locked, so it is called once per
    decision: a second approval waits for the lock and then finds the action decided. Should the commit
    fail after the call (the database gone mid-decision), the action stays awaiting and a retry calls
    again: a real executor passes action.action_id to the platform as its idempotency key.
    """

    def execute(self, action: ActionEvent) -> None: ...


class RecordOnlyExecutor:
    """The default: records the decision and calls no platform (the Discord call lives elsewhere)."""

    def execute(self, action: ActionEvent) -> None:
        return None


def action_event_approve(
    *, action: ActionEvent, reviewer, reason: str, executor: ActionExecutor | None = None
) -> ActionEvent:
    """A human approved the action: it is carried out once, then completed (or failed with error_msg).

    Params are checked against the platform's limits first; an action decided meanwhile (another
    reviewer, a double click) raises ValidationError naming who decided it, and nothing runs.
    """
    return _decide(action, reviewer=reviewer, reason=reason, executor=executor or RecordOnlyExecutor())


def action_event_reject(*, action: ActionEvent, reviewer, reason: str) -> ActionEvent:
    """A human rejected the action: it never runs. Raises ValidationError if it was decided meanwhile."""
    return _decide(action, reviewer=reviewer, reason=reason, executor=None)


@transaction.atomic
def _decide(action: ActionEvent, *, reviewer, reason: str, executor: ActionExecutor | None) -> ActionEvent:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("a reason is required to approve or reject an action", code="reason_required")
    # The row lock serialises deciders: of two reviewers (or a double click) the second waits here
    # until the first commits, then reads the decided status below and changes nothing.
    locked = ActionEvent.objects.select_for_update(of=("self",)).filter(pk=action.pk).first()
    if locked is None:
        raise ValidationError(f"action {action.pk} no longer exists: nothing was done", code="invalid_transition")
    if locked.status != ActionStatus.AWAITING_APPROVAL:
        raise ValidationError(_already_decided(locked), code="invalid_transition")
    if executor is None:
        locked.status = ActionStatus.REJECTED
    else:
        validate_action_params(locked.action_type, locked.action_params)
        try:
            executor.execute(locked)
        except ActionExecutionFailed as failure:
            locked.status, locked.error_msg = ActionStatus.FAILED, str(failure) or type(failure).__name__
        else:
            locked.status, locked.error_msg = ActionStatus.COMPLETED, None
        locked.executed_at = timezone.now()
    locked.save(update_fields=["status", "error_msg", "executed_at", "updated_at"])
    ActionReview.objects.create(
        action=locked, reviewer=reviewer, from_status=ActionStatus.AWAITING_APPROVAL, to_status=locked.status,
        reason=reason,
    )  # fmt: skip
    for name in ("status", "error_msg", "executed_at", "updated_at"):
        setattr(action, name, getattr(locked, name))
    return locked


def _already_decided(action: ActionEvent) -> str:
    review = action.reviews.select_related("reviewer").order_by("-created_at").first()
    if review is None:
        return f"action {action.pk} is {action.status}, not awaiting approval: nothing was done"
    when = timezone.localtime(review.created_at).strftime("%Y-%m-%d %H:%M:%S %Z")
    return f"action {action.pk} was already {action.status} by {review.reviewer} at {when}: nothing was done"
