"""rollback undoes the project's own migrations by default, and nothing when the database is ahead of the code."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from dbops.conventions import project_app_labels


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, verbosity=1)
    return out.getvalue()


def planned(output: str) -> list[str]:
    return [line.split("undo ", 1)[1] for line in output.splitlines() if line.startswith("  undo ")]


# Outside a test transaction, as the command runs: the dry run collects the latest migration's SQL, and Django's
# concurrent index operations (moderation 0028, 0035) refuse even that inside a transaction.
@pytest.mark.django_db(transaction=True)
def test_rollback_plans_the_latest_migration_of_the_projects_own_apps_never_a_contrib_one():
    [undo] = planned(run("rollback", "--dry-run"))
    assert undo.split(".")[0] in project_app_labels()


@pytest.mark.django_db
def test_a_contrib_app_is_rolled_back_only_when_named():
    assert planned(run("rollback", "sessions", "--dry-run")) == ["sessions.0001_initial"]


@pytest.fixture
def database_ahead_of_the_code(db):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) VALUES ('moderation', '0999_from_a_newer_image', now())"
        )


def test_rollback_refuses_anything_when_the_database_is_ahead_of_the_code(database_ahead_of_the_code):
    for args in [(), ("--dry-run",), ("sessions",)]:
        with pytest.raises(CommandError, match=r"database is ahead of the code.*moderation\.0999_from_a_newer_image"):
            run("rollback", *args)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM django_migrations WHERE app = 'sessions'")
        assert cursor.fetchone()[0] == 1


def test_migration_status_says_the_database_is_ahead_and_names_the_unknown_migrations(database_ahead_of_the_code):
    output = run("migration_status")
    assert "The database is ahead of the code: moderation.0999_from_a_newer_image" in output
    moderation_line = next(line for line in output.splitlines() if line.strip().startswith("moderation "))
    assert "[database ahead of the code: 0999_from_a_newer_image not in this checkout]" in moderation_line
    assert "up to date" not in moderation_line


def test_migrate_warns_that_the_database_is_ahead_and_changes_nothing_of_it(database_ahead_of_the_code):
    err = io.StringIO()
    call_command("migrate", stdout=io.StringIO(), stderr=err)
    assert "warning: the database is ahead of the code: moderation.0999_from_a_newer_image" in err.getvalue()
