"""Writes to the moderation tables. Each service validates (full_clean, or the ingest checks) before it saves."""

import itertools
from collections.abc import Iterable

import psycopg
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from moderation import ingest, vector_index
from moderation.ingest import DEFAULT_BATCH_SIZE, EvaluationInput, RecordedEvaluation
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


def evaluation_event_record(
    *, moderator: Moderator, platform_user_id: str, severity_score: float, context: dict, embedding=None,
) -> EvaluationEvent:  # fmt: skip
    """Store one scored message in one statement (one round trip); behaviour_score and guarantees as for a batch.

    Scores are rounded to 2 decimals as the service always did. Bad input raises ValidationError, nothing written.
    """
    batch = ingest.Batch([EvaluationInput(moderator.pk, platform_user_id, severity_score, context, embedding)])
    connection.ensure_connection()
    pg = connection.connection
    with ingest.binary_vector_cursor(pg, ingest.vector_info(pg)) as cursor:
        try:
            if connection.in_atomic_block:
                with transaction.atomic():  # a savepoint: a refused event leaves the caller's transaction usable
                    row = cursor.execute(ingest.SINGLE_SQL, batch.single_params(), prepare=True).fetchone()
            else:
                row = cursor.execute(ingest.SINGLE_SQL, batch.single_params(), prepare=True).fetchone()
        except psycopg.errors.ForeignKeyViolation as exc:
            raise (batch.offending_moderator(exc) or exc) from None
    behaviour_score, created_at = row
    event = EvaluationEvent(
        event_id=batch.params["event_ids"][0],
        moderator=moderator,
        platform_user_id=platform_user_id,
        severity_score=round(severity_score, 2),
        behaviour_score=behaviour_score,
        context=context,
        embedding=embedding,
        created_at=created_at,
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
    batch = ingest.Batch(events)
    connection.ensure_connection()
    pg = connection.connection
    if connection.in_atomic_block:
        with transaction.atomic():  # a savepoint: a rejected batch leaves the caller's transaction usable
            return _run_batch(pg, batch, own_transaction=False)
    return _run_batch(pg, batch, own_transaction=True)


def evaluation_events_record_stream(*, events: Iterable[EvaluationInput], batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Record any number of evaluations, batch_size per transaction; memory stays one batch. Returns the count.

    A rejected batch raises (naming the item); the batches before it stay committed.
    """
    recorded = 0
    iterator = iter(events)
    while chunk := list(itertools.islice(iterator, batch_size)):
        recorded += len(evaluation_events_record(events=chunk))
    return recorded


def _run_batch(pg: psycopg.Connection, batch: ingest.Batch, *, own_transaction: bool) -> list[RecordedEvaluation]:
    info, fk_name = ingest.vector_info(pg), ingest.moderator_fk_name(pg)
    with ingest.binary_vector_cursor(pg, info) as cursor:
        try:
            with pg.pipeline():
                if own_transaction:
                    psycopg.Cursor(pg).execute("BEGIN")
                psycopg.Cursor(pg).execute(ingest.constraint_sql(fk_name))
                # Prepared (per connection): planning the INSERT's CTEs costs about as much as running it for one row.
                psycopg.Cursor(pg).execute(ingest.LOCK_SQL, [batch.lock_keys], prepare=True)
                cursor.execute(ingest.INSERT_SQL, batch.params, prepare=True)
                if own_transaction:
                    psycopg.Cursor(pg).execute("COMMIT")
        except psycopg.errors.ForeignKeyViolation as exc:
            _abandon(pg, own_transaction)
            raise (batch.offending_moderator(exc) or exc) from None
        except BaseException:
            _abandon(pg, own_transaction)
            raise
        return ingest.recorded(cursor.fetchall())


def _abandon(pg: psycopg.Connection, own_transaction: bool) -> None:
    if own_transaction and pg.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        pg.execute("ROLLBACK")


async def aevaluation_events_record(*, events: Iterable[EvaluationInput]) -> list[RecordedEvaluation]:
    """evaluation_events_record for async Django code (ASGI views, async consumers using Django's connection)."""
    return await sync_to_async(evaluation_events_record, thread_sensitive=True)(events=list(events))


async def evaluation_events_record_async(
    *, events: Iterable[EvaluationInput], pg: psycopg.AsyncConnection
) -> list[RecordedEvaluation]:
    """The same batch on an asyncio consumer's own psycopg AsyncConnection, in one round trip, no thread hop.

    The connection must be in autocommit mode (psycopg's default is not): each batch is its own transaction.
    """
    if not pg.autocommit:
        raise ValueError("evaluation_events_record_async needs an autocommit AsyncConnection (autocommit=True)")
    batch = ingest.Batch(events)
    info = getattr(pg, "_gova_vector_info", None)
    if info is None:
        info = pg._gova_vector_info = await psycopg.types.TypeInfo.fetch(pg, "vector")
    fk_name = getattr(pg, "_gova_moderator_fk", None)
    if fk_name is None:
        fk_name = pg._gova_moderator_fk = (await (await pg.execute(ingest.MODERATOR_FK_SQL)).fetchone())[0]
    async with ingest.binary_vector_cursor(pg, info) as cursor:
        try:
            async with pg.pipeline():
                await pg.execute("BEGIN")
                await pg.execute(ingest.constraint_sql(fk_name))
                await pg.execute(ingest.LOCK_SQL, [batch.lock_keys], prepare=True)
                await cursor.execute(ingest.INSERT_SQL, batch.params, prepare=True)
                await pg.execute("COMMIT")
        except BaseException as exc:
            if pg.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                await pg.execute("ROLLBACK")
            if isinstance(exc, psycopg.errors.ForeignKeyViolation):
                raise batch.offending_moderator(exc) or exc from None
            raise
        return ingest.recorded(await cursor.fetchall())


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


def evaluation_embeddings_fold(
    *, lag_seconds: float = vector_index.DEFAULT_LAG_SECONDS, max_parts: int = vector_index.DEFAULT_MAX_PARTS
) -> vector_index.FoldReport:
    """Fold the unindexed tail (rows older than lag_seconds) into a new HNSW part; see moderation.vector_index.

    Outside any transaction (CREATE INDEX CONCURRENTLY). Raises FoldBusy if another fold holds the fold lock.
    """
    return vector_index.fold(lag_seconds=lag_seconds, max_parts=max_parts)
