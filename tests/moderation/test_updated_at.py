"""updated_at moves on for every writer: Django's save(), QuerySet.update() and raw SQL."""

import pytest
from django.db import connection

from accounts.models import User
from moderation.models import ActionEvent
from tests.factories import ActionEventFactory, UserFactory


def stored_updated_at(model, pk):
    return model.objects.values_list("updated_at", flat=True).get(pk=pk)


@pytest.mark.django_db(transaction=True)  # each statement its own transaction, so now() moves on
@pytest.mark.parametrize(
    ("factory", "table", "key"), [(UserFactory, "users", "user_id"), (ActionEventFactory, "action_events", "action_id")]
)
def test_raw_sql_and_queryset_updates_move_updated_at(factory, table, key):
    row = factory()
    model = type(row)
    before = stored_updated_at(model, row.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {'username' if table == 'users' else 'reason'} = 'changed' WHERE {key} = %s", [row.pk]
        )
    after_raw = stored_updated_at(model, row.pk)
    assert after_raw > before
    model.objects.filter(pk=row.pk).update(**({"pricing_tier": "pro"} if model is User else {"error_msg": "x"}))
    assert stored_updated_at(model, row.pk) > after_raw


@pytest.mark.django_db
def test_the_value_django_sets_on_save_is_the_one_stored():
    action = ActionEventFactory()
    action.reason = "reviewed"
    action.save()
    assert stored_updated_at(ActionEvent, action.pk) == action.updated_at
