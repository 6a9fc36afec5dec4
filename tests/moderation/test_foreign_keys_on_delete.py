"""ON DELETE rules live in the database, so writers other than Django get them too."""

import pytest
from django.db import IntegrityError, connection, transaction

from moderation.models import ActionEvent, EvaluationEvent, Moderator
from tests.factories import ActionEventFactory


def raw_delete(table, key_column, key):
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {key_column} = %s", [key])


@pytest.mark.django_db
def test_raw_delete_of_a_user_cascades_to_moderators_and_their_events():
    action = ActionEventFactory()
    moderator = action.moderator
    raw_delete("users", "user_id", moderator.user_id)
    assert not Moderator.objects.filter(pk=moderator.pk).exists()
    assert not EvaluationEvent.objects.filter(moderator_id=moderator.pk).exists()
    assert not ActionEvent.objects.filter(moderator_id=moderator.pk).exists()


@pytest.mark.django_db
def test_raw_delete_of_an_evaluation_with_actions_is_refused():
    action = ActionEventFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        raw_delete("evaluation_events", "event_id", action.evaluation_id)
        # The constraint is deferred like every Django foreign key: checked at commit.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.mark.django_db
def test_the_orm_cascades_the_same_way():
    action = ActionEventFactory()
    action.moderator.user.delete()
    assert not ActionEvent.objects.filter(pk=action.pk).exists()
    assert not EvaluationEvent.objects.filter(pk=action.evaluation_id).exists()
