"""Deciding an awaiting action: approve (carried out once) or reject, with a reason, logged, one winner."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from moderation.models import ActionEvent, ActionReview, ActionStatus, ActionType
from moderation.services import (
    ActionExecutionFailed,
    action_event_approve,
    action_event_record,
    action_event_reject,
    evaluation_event_record,
)
from tests.factories import ActionEventFactory, ModeratorFactory, UserFactory, message_context


class CountingExecutor:
    def __init__(self, fail_with=None):
        self.executed = []
        self.fail_with = fail_with

    def execute(self, action):
        self.executed.append(action.pk)
        if self.fail_with:
            raise ActionExecutionFailed(self.fail_with)


@pytest.fixture
def reviewer(db):
    return UserFactory(username="alice", is_staff=True)


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


def test_approval_carries_out_the_action_once_and_logs_the_decision(reviewer):
    action = ActionEventFactory()
    executor = CountingExecutor()
    action_event_approve(action=action, reviewer=reviewer, reason="clear spam", executor=executor)
    stored = ActionEvent.objects.get(pk=action.pk)
    assert (stored.status, stored.error_msg) == (ActionStatus.COMPLETED, None)
    assert stored.executed_at is not None and executor.executed == [action.pk]
    [review] = ActionReview.objects.filter(action=action)
    assert (review.reviewer, review.from_status, review.to_status, review.reason) == (
        reviewer, ActionStatus.AWAITING_APPROVAL, ActionStatus.COMPLETED, "clear spam",
    )  # fmt: skip

    # A retry or a double click: refused with who decided, and nothing is carried out again.
    with pytest.raises(ValidationError, match="already completed by alice at .*: nothing was done"):
        action_event_approve(action=stored, reviewer=reviewer, reason="again", executor=executor)
    assert executor.executed == [action.pk]
    assert ActionReview.objects.filter(action=action).count() == 1


def test_a_platform_refusal_leaves_the_action_failed_with_its_error(reviewer):
    action = ActionEventFactory()
    action_event_approve(
        action=action, reviewer=reviewer, reason="ok", executor=CountingExecutor(fail_with="Missing Permissions")
    )
    stored = ActionEvent.objects.get(pk=action.pk)
    assert (stored.status, stored.error_msg) == (ActionStatus.FAILED, "Missing Permissions")
    assert stored.executed_at is not None
    assert ActionReview.objects.get(action=action).to_status == ActionStatus.FAILED


def test_rejection_never_runs_and_cannot_be_approved_later(reviewer):
    action = ActionEventFactory()
    action_event_reject(action=action, reviewer=reviewer, reason="false positive")
    stored = ActionEvent.objects.get(pk=action.pk)
    assert (stored.status, stored.executed_at) == (ActionStatus.REJECTED, None)
    executor = CountingExecutor()
    with pytest.raises(ValidationError, match="already rejected by alice"):
        action_event_approve(action=stored, reviewer=reviewer, reason="changed my mind", executor=executor)
    assert executor.executed == []


def test_a_bot_completed_action_is_not_awaiting(reviewer):
    action = ActionEventFactory(status=ActionStatus.COMPLETED)
    with pytest.raises(ValidationError, match="is completed, not awaiting approval: nothing was done"):
        action_event_reject(action=action, reviewer=reviewer, reason="too late")


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_decision_needs_a_reason(reviewer, reason):
    action = ActionEventFactory()
    with pytest.raises(ValidationError, match="a reason is required"):
        action_event_reject(action=action, reviewer=reviewer, reason=reason)
    assert ActionEvent.objects.get(pk=action.pk).status == ActionStatus.AWAITING_APPROVAL


@pytest.mark.parametrize(
    ("action_type", "params", "message"),
    [
        (ActionType.TIMEOUT, {"duration": 28 * 24 * 3600 + 1}, "a timeout lasts 1 to 2,419,200 seconds"),
        (ActionType.TIMEOUT, {"duration": 0}, "a timeout lasts 1 to 2,419,200 seconds"),
        (ActionType.TIMEOUT, {}, "not None"),
        (ActionType.REPLY, {"content": "x" * 2001}, "a reply is at most 2,000 characters .*not 2,001"),
        (ActionType.REPLY, {"content": "  "}, "a reply needs a non-empty string"),
    ],
)
def test_params_beyond_discords_limits_are_refused_before_approval(reviewer, action_type, params, message):
    action = ActionEventFactory(action_type=action_type, action_params=params)
    executor = CountingExecutor()
    with pytest.raises(ValidationError, match=message):
        action_event_approve(action=action, reviewer=reviewer, reason="ok", executor=executor)
    assert executor.executed == []
    assert ActionEvent.objects.get(pk=action.pk).status == ActionStatus.AWAITING_APPROVAL
    assert not ActionReview.objects.exists()


def test_params_at_discords_limits_are_approved(reviewer):
    timeout = ActionEventFactory(action_type=ActionType.TIMEOUT, action_params={"duration": 28 * 24 * 3600})
    reply = ActionEventFactory(action_type=ActionType.REPLY, action_params={"content": "x" * 2000})
    for action in (timeout, reply):
        assert action_event_approve(action=action, reviewer=reviewer, reason="ok").status == ActionStatus.COMPLETED


@pytest.mark.django_db(transaction=True)  # two threads, two real connections, real commits
def test_two_reviewers_at_once_exactly_one_wins_and_the_other_is_told():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    action = ActionEventFactory()
    executed, entered, release = [], threading.Event(), threading.Event()

    class SlowExecutor:
        def execute(self, locked):
            executed.append(locked.pk)
            entered.set()
            release.wait(30)

    outcomes = {}

    def decide(name, reviewer):
        try:
            outcomes[name] = action_event_approve(
                action=action, reviewer=reviewer, reason=name, executor=SlowExecutor()
            )
        except ValidationError as error:
            outcomes[name] = error
        finally:
            connections.close_all()

    first = threading.Thread(target=decide, args=("alice", alice))
    first.start()
    assert entered.wait(30), "alice's approval never reached the executor"
    second = threading.Thread(target=decide, args=("bob", bob))
    second.start()
    try:
        # Bob's transaction is waiting for the row lock Alice holds (seen by the server, not by a sleep).
        with connection.cursor() as cursor:
            for _ in range(3000):
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
                if cursor.fetchone()[0]:
                    break
                threading.Event().wait(0.01)
            else:
                pytest.fail("bob's approval never waited for alice's lock")
    finally:
        release.set()
        first.join(30)
        second.join(30)

    assert executed == [action.pk]  # carried out once
    assert outcomes["alice"].status == ActionStatus.COMPLETED
    assert isinstance(outcomes["bob"], ValidationError)
    assert "already completed by alice" in outcomes["bob"].messages[0]
    assert list(ActionReview.objects.values_list("reviewer__username", flat=True)) == ["alice"]
