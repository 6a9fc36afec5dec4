"""Writes to the moderation tables. Each service validates (full_clean, or the ingest checks) before it saves."""

from collections.abc import Iterable
from typing import Protocol

import psycopg
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from moderation import ingest, vector_index
from moderation.ingest import DEFAULT_BATCH_SIZE, EvaluationInput, RecordedEvaluation
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


def evaluation_event_record(
    *, moderator: Moderator, platform_user_id: str, severity_score: float, context: dict, embedding=None,
) -> EvaluationEvent:  # fmt: skip
    """Store one scored message in one statement (one round trip); behaviour_score and guarantees as for a batch.

    Scores are rounded to 2 decimals as the service always did. Bad input raises ValidationError, nothing written.
    """
    recorded = ingest.record_one(EvaluationInput(moderator.pk, platform_user_id, severity_score, context, embedding))
    event = EvaluationEvent(
        event_id=recorded.event_id,
        moderator=moderator,
        platform_user_id=platform_user_id,
        severity_score=round(severity_score, 2),
        behaviour_score=recorded.behaviour_score,
        context=context,
        embedding=embedding,
        created_at=recorded.created_at,
    )
    event._state.adding = False
    return event


def evaluation_events_record(*, events: Iterable[EvaluationInput]) -> list[RecordedEvaluation]:
    """Record a batch of evaluations atomically in one round trip; returns key, behaviour score and time per event.

    behaviour_score = mean of the author's last 100 severity scores under the same moderator, this one included,
    rounded to 2 decimals; several events of one author in a batch count in batch order. Two writers recording
    the same author at once serialise on that author's lock (see moderation.ingest for the guarantee).
    A bad item (type, score range, embedding width, unknown moderator) raises ValidationError naming it, and
    nothing of the batch is written. Inside the caller's transaction the batch runs in a savepoint.
    """
    return ingest.record(events)


def evaluation_events_record_stream(*, events: Iterable[EvaluationInput], batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Record any number of evaluations, batch_size per transaction; memory stays two batches. Returns the count.

    While the server records one batch, the next is validated and encoded here, so that Python's part of a batch
    (~12 ms per 1,000 rows) overlaps the server's instead of adding to it. `events` is read one batch ahead and
    only while the connection is idle (batch n once batch n - 2 has committed, before batch n - 1 is sent), so a
    generator may use the ORM.
    A rejected batch raises (naming the item); the batches before it stay committed, none after it is written.
    Inside the caller's transaction each batch runs in a savepoint.
    """
    return ingest.record_stream(events, batch_size)


async def aevaluation_events_record(*, events: Iterable[EvaluationInput]) -> list[RecordedEvaluation]:
    """evaluation_events_record for async Django code (ASGI views, async consumers using Django's connection)."""
    return await sync_to_async(evaluation_events_record, thread_sensitive=True)(events=list(events))


async def evaluation_events_record_async(
    *, events: Iterable[EvaluationInput], pg: psycopg.AsyncConnection
) -> list[RecordedEvaluation]:
    """The same batch on an asyncio consumer's own psycopg AsyncConnection, in one round trip, no thread hop.

    The connection must be in autocommit mode (psycopg's default is not): each batch is its own transaction.
    """
    return await ingest.record_async(events, pg)


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


def evaluation_embeddings_fold(
    *, lag_seconds: float = vector_index.DEFAULT_LAG_SECONDS, max_parts: int = vector_index.DEFAULT_MAX_PARTS
) -> vector_index.FoldReport:
    """Fold the unindexed tail (rows older than lag_seconds) into a new HNSW part; see moderation.vector_index.

    Outside any transaction (CREATE INDEX CONCURRENTLY). Raises FoldBusy if another fold holds the fold lock.
    """
    return vector_index.fold(lag_seconds=lag_seconds, max_parts=max_parts)
