"""The Django workflow on this schema: makemigrations is clean; zero and back works on a database holding rows."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from accounts.models import User
from moderation.models import EvaluationEvent
from tests.factories import ActionEventFactory


@pytest.mark.django_db  # makemigrations reads the applied history to check its consistency
def test_makemigrations_check_finds_no_changes():
    # SystemExit(1) when the models have changes that no migration records.
    call_command("makemigrations", "--check", "--dry-run", stdout=io.StringIO())


def tables() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_moderation_and_accounts_to_zero_and_back_with_rows():
    action = ActionEventFactory()
    user_pk = action.moderator.user_id
    try:
        # Event rows and no backup: the data-loss guard refuses until told otherwise.
        with pytest.raises(CommandError, match="refusing to lose event data"):
            call_command("migrate", "moderation", "zero", verbosity=0)
        assert EvaluationEvent.objects.filter(pk=action.evaluation_id).exists()

        call_command("migrate", "moderation", "zero", allow_data_loss=True, verbosity=0)
        assert {"moderators", "evaluation_events", "action_events"}.isdisjoint(tables())
        assert User.objects.filter(pk=user_pk).exists()  # accounts untouched

        call_command("migrate", "accounts", "zero", verbosity=0)
        assert "users" not in tables()

        call_command("migrate", verbosity=0)
        assert {"users", "moderators", "evaluation_events", "action_events"} <= tables()
        ActionEventFactory()  # the schema works again
    finally:
        call_command("migrate", verbosity=0)
