"""Status transitions and the review log hold for every writer: raw SQL and QuerySet.update() included."""

import pytest
from django.db import IntegrityError, connection, transaction

from moderation.models import ActionEvent, ActionReview, ActionStatus
from tests.factories import ActionEventFactory, UserFactory

pytestmark = pytest.mark.django_db

DECIDED = [ActionStatus.COMPLETED, ActionStatus.FAILED, ActionStatus.REJECTED]


def raw_update(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize("to_status", DECIDED)
def test_raw_sql_may_decide_an_awaiting_action(to_status):
    action = ActionEventFactory()
    raw_update("UPDATE action_events SET status = %s WHERE action_id = %s", [to_status, action.pk])
    assert ActionEvent.objects.get(pk=action.pk).status == to_status


@pytest.mark.parametrize(
    ("from_status", "to_status"), [(old, new) for old in DECIDED for new in ActionStatus.values if new != old]
)
def test_raw_sql_cannot_move_a_decided_action(from_status, to_status):
    action = ActionEventFactory(status=from_status)
    with pytest.raises(IntegrityError, match=f"status cannot change from {from_status} to {to_status}"):
        raw_update("UPDATE action_events SET status = %s WHERE action_id = %s", [to_status, action.pk])
    assert ActionEvent.objects.get(pk=action.pk).status == from_status


def test_queryset_update_cannot_bring_a_rejected_action_back():
    action = ActionEventFactory(status=ActionStatus.REJECTED)
    with pytest.raises(IntegrityError, match="from rejected to completed"), transaction.atomic():
        ActionEvent.objects.filter(pk=action.pk).update(status=ActionStatus.COMPLETED)


def test_other_columns_of_a_decided_action_still_change():
    action = ActionEventFactory(status=ActionStatus.FAILED)
    raw_update("UPDATE action_events SET error_msg = 'retry later' WHERE action_id = %s", [action.pk])
    assert ActionEvent.objects.get(pk=action.pk).error_msg == "retry later"


@pytest.fixture
def review():
    action = ActionEventFactory(status=ActionStatus.REJECTED)
    return ActionReview.objects.create(
        action=action, reviewer=UserFactory(), from_status="awaiting_approval", to_status="rejected", reason="spam"
    )


@pytest.mark.parametrize(
    ("sql", "operation"),
    [
        ("UPDATE action_reviews SET reason = 'edited' WHERE review_id = %s", "UPDATE"),
        ("DELETE FROM action_reviews WHERE review_id = %s", "DELETE"),
    ],
)
def test_the_review_log_refuses_raw_updates_and_deletes(review, sql, operation):
    with pytest.raises(IntegrityError, match=f"action_reviews is append-only: {operation} refused"):
        raw_update(sql, [review.pk])
    assert ActionReview.objects.get(pk=review.pk).reason == "spam"


def test_the_review_log_refuses_the_orms_update_and_delete(review):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        ActionReview.objects.filter(pk=review.pk).update(reason="edited")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        review.delete()


def test_the_review_log_outlives_the_moderator_it_describes(review):
    review.action.moderator.delete()
    assert not ActionEvent.objects.filter(pk=review.action_id).exists()
    assert ActionReview.objects.filter(pk=review.pk).exists()


def test_a_review_needs_a_reason():
    action = ActionEventFactory(status=ActionStatus.REJECTED)
    with pytest.raises(IntegrityError, match="review_reason_given"), transaction.atomic():
        ActionReview.objects.create(
            action=action, reviewer=UserFactory(), from_status="awaiting_approval", to_status="rejected", reason=" "
        )
