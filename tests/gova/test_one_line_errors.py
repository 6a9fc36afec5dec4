"""Operator commands fail with one line that says what is wrong and what to do, never a traceback."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import User
from moderation.models import EvaluationEvent
from tests.factories import EvaluationEventFactory

DOWN = "postgres://someone:secret-pw@127.0.0.1:1/gova"


CONNECT = "from django.db import connection; connection.ensure_connection()"


@pytest.mark.parametrize(
    "command", [["migrate"], ["rollback"], ["migration_status"], ["backup_events"], ["shell", "-c", CONNECT]]
)
def test_a_server_that_is_down_is_one_line_naming_where(manage, command):
    result = manage(*command, env={"DATABASE_URL": DOWN})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "cannot connect to the database at 127.0.0.1:1 (Connection refused): check DATABASE_URL" in result.stderr
    assert "secret-pw" not in result.stderr


def test_backup_events_on_an_unmigrated_database_is_one_line(manage, empty_database, tmp_path):
    name, url = empty_database
    result = manage("backup_events", "--output-dir", str(tmp_path), env={"DATABASE_URL": url})
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert f"action_events, evaluation_events not in database '{name}'" in result.stderr
    assert "python manage.py migrate" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.django_db
def test_restoring_into_a_database_without_the_moderators_says_how_to_bring_them(tmp_path):
    event = EvaluationEventFactory()
    quiet = {"stdout": io.StringIO(), "stderr": io.StringIO()}
    call_command("backup_events", "--output-dir", str(tmp_path), **quiet)
    [backup] = tmp_path.glob("*.tar")
    owners = tmp_path / "owners.json"
    call_command("dumpdata", "accounts.User", "moderation.Moderator", "-o", str(owners), **quiet)
    User.objects.all().delete()  # a fresh database: no users, moderators or events
    with pytest.raises(CommandError, match=r"foreign key.*dumpdata accounts\.User moderation\.Moderator"):
        call_command("restore_events", str(backup), **quiet)
    assert not EvaluationEvent.objects.exists()

    # What the message says, done: the events come back with their moderator.
    call_command("loaddata", str(owners), **quiet)
    call_command("restore_events", str(backup), **quiet)
    assert EvaluationEvent.objects.get().pk == event.pk
