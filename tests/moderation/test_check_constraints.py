"""Every invariant holds in the database itself: an ORM write and a raw SQL write are both refused."""

import pytest
from django.db import IntegrityError, connection, transaction

from tests.factories import ActionEventFactory, EvaluationEventFactory, ModeratorFactory, UserFactory

# (factory, column, bad value, constraint name)
BAD_VALUES = [
    (EvaluationEventFactory, "severity_score", 1.5, "evaluation_severity_range"),
    (EvaluationEventFactory, "severity_score", -0.01, "evaluation_severity_range"),
    (EvaluationEventFactory, "behaviour_score", 1.01, "evaluation_behaviour_range"),
    (EvaluationEventFactory, "behaviour_score", -1, "evaluation_behaviour_range"),
    (UserFactory, "pricing_tier", "enterprise", "user_pricing_tier_valid"),
    (ModeratorFactory, "platform", "slack", "moderator_platform_valid"),
    (ModeratorFactory, "status", "sleeping", "moderator_status_valid"),
    (ActionEventFactory, "action_type", "ban", "action_type_valid"),
    (ActionEventFactory, "status", "approved", "action_status_valid"),
]
IDS = [f"{factory._meta.model.__name__}.{column}={value}" for factory, column, value, _ in BAD_VALUES]


@pytest.mark.django_db
@pytest.mark.parametrize(("factory", "column", "value", "constraint"), BAD_VALUES, ids=IDS)
def test_orm_write_of_a_bad_value_is_refused_by_the_database(factory, column, value, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        factory(**{column: value})


@pytest.mark.django_db
@pytest.mark.parametrize(("factory", "column", "value", "constraint"), BAD_VALUES, ids=IDS)
def test_raw_sql_update_to_a_bad_value_is_refused(factory, column, value, constraint):
    row = factory()
    table = row._meta.db_table
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {row._meta.pk.column} = %s", [value, row.pk])


# The edge of each range, and a value of each choices column: accepted by the same constraints.
GOOD_VALUES = [
    (EvaluationEventFactory, "severity_score", 1.0),
    (EvaluationEventFactory, "severity_score", 0.0),
    (EvaluationEventFactory, "behaviour_score", 0.0),
    (EvaluationEventFactory, "behaviour_score", 1.0),
    (UserFactory, "pricing_tier", "pro"),
    (ModeratorFactory, "platform", "discord"),
    (ModeratorFactory, "status", "online"),
    (ActionEventFactory, "action_type", "kick"),
    (ActionEventFactory, "status", "rejected"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("factory", "column", "value"),
    GOOD_VALUES,
    ids=[f"{factory._meta.model.__name__}.{column}={value}" for factory, column, value in GOOD_VALUES],
)
def test_good_boundary_values_are_accepted(factory, column, value):
    row = factory(**{column: value})
    row.refresh_from_db()
    assert getattr(row, column) == value
