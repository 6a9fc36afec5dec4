"""rollback, the data-loss guard and migration_status, on a test-only app whose migrations touch evaluation_events."""

import io

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import override_settings

from dbops.rollback_planning import applied_in_order
from tests.factories import EvaluationEventFactory

RISKY_APP = "tests.fixture_apps.riskyapp"


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, verbosity=1)
    return out.getvalue()


def applied(app="riskyapp") -> list[str]:
    return [m.name for m in applied_in_order(connection) if m.app == app]


def has_scratch_column() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.columns "
            "WHERE table_name = 'evaluation_events' AND column_name = 'scratch'"
        )
        return cursor.fetchone() is not None


@pytest.fixture
def risky_app(transactional_db, settings, tmp_path):
    settings.GOVA_BACKUP_DIR = tmp_path / "backups"
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, RISKY_APP]):
        try:
            yield
        finally:
            # Leave the shared test database as every other test expects it.
            call_command("migrate", "riskyapp", "zero", fake=True, verbosity=0)
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS riskyapp_note")
                cursor.execute("ALTER TABLE evaluation_events DROP COLUMN IF EXISTS scratch")


def test_rollback_undoes_the_latest_applied_migration_only(risky_app):
    call_command("migrate", "riskyapp", "0002", verbosity=0)
    output = run("rollback")
    assert "undo riskyapp.0002_add_scratch_column" in output
    assert applied() == ["0001_initial"] and not has_scratch_column()


def test_rollback_steps_follow_the_applied_order(risky_app):
    call_command("migrate", "riskyapp", "0002", verbosity=0)
    run("rollback", "--steps", "2")
    assert applied() == []


def test_rollback_undoes_dependents_first(risky_app):
    call_command("migrate", "riskyapp", "0001", verbosity=0)
    # Recorded out of dependency order, as a faked or hand-repaired history can be: 0001 is the latest row.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE django_migrations SET id = (SELECT max(id) + 1 FROM django_migrations) "
                       "WHERE app = 'riskyapp' AND name = '0001_initial'")  # fmt: skip
    output = run("rollback", "--dry-run")
    assert "undo riskyapp.0001_initial" in output and "undo moderation" not in output


def test_dry_run_prints_the_sql_and_changes_nothing(risky_app):
    call_command("migrate", "riskyapp", "0002", verbosity=0)
    output = run("rollback", "--dry-run")
    assert "ALTER TABLE evaluation_events DROP COLUMN scratch" in output
    assert applied() == ["0001_initial", "0002_add_scratch_column"] and has_scratch_column()


def test_irreversible_migration_stops_rollback_before_anything_runs(risky_app):
    call_command("migrate", "riskyapp", verbosity=0)
    with pytest.raises(CommandError, match="riskyapp.0004_irreversible_backfill is irreversible"):
        run("rollback", "--steps", "2")
    assert applied() == [
        "0001_initial",
        "0002_add_scratch_column",
        "0003_drop_scratch_column",
        "0004_irreversible_backfill",
    ]


def test_migration_dropping_event_data_is_refused_without_a_backup(risky_app):
    call_command("migrate", "riskyapp", "0002", verbosity=0)
    EvaluationEventFactory()
    with pytest.raises(
        CommandError,
        match=r"refusing to lose event data.*0003_drop_scratch_column drops or rewrites rows \(declared\) in "
        r"evaluation_events",
    ):
        call_command("migrate", "riskyapp", "0003", verbosity=0)
    assert applied() == ["0001_initial", "0002_add_scratch_column"] and has_scratch_column()


def test_rollback_that_drops_event_data_is_refused_too(risky_app):
    call_command("migrate", "riskyapp", "0002", verbosity=0)
    EvaluationEventFactory()
    with pytest.raises(CommandError, match="refusing to lose event data"):
        run("rollback")
    assert has_scratch_column()


def test_a_backup_of_the_current_schema_lets_it_run(risky_app, settings):
    call_command("migrate", "riskyapp", "0002", verbosity=0)
    EvaluationEventFactory()
    call_command("backup_events", "--table", "evaluation_events", "--output-dir", str(settings.GOVA_BACKUP_DIR),
                 stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip
    call_command("migrate", "riskyapp", "0003", verbosity=0)
    assert not has_scratch_column()


def test_the_override_lets_it_run(risky_app):
    call_command("migrate", "riskyapp", "0002", verbosity=0)
    EvaluationEventFactory()
    call_command("migrate", "riskyapp", "0003", allow_data_loss=True, verbosity=0)
    assert not has_scratch_column()


def test_empty_event_tables_have_nothing_to_lose(risky_app):
    call_command("migrate", "riskyapp", "0003", verbosity=0)
    assert applied()[-1] == "0003_drop_scratch_column"


def test_migration_status_shows_heads_pending_and_history(risky_app):
    call_command("migrate", "riskyapp", "0002", verbosity=0)
    output = run("migration_status", "riskyapp", "moderation", "--history", "0")
    assert (
        "riskyapp    0002_add_scratch_column  [2 pending: 0003_drop_scratch_column, 0004_irreversible_backfill]"
        in output
    )
    (moderation_head,) = (name for app, name in MigrationLoader(None).graph.leaf_nodes() if app == "moderation")
    assert f"moderation  {moderation_head}  [up to date]" in output
    history = output.split("History", 1)[1]
    assert history.index("moderation.0002_foreign_keys_on_delete_cascade") < history.index("riskyapp.0001_initial")
    assert history.index("riskyapp.0001_initial") < history.index("riskyapp.0002_add_scratch_column")


@pytest.mark.django_db
@pytest.mark.parametrize(("command", "args", "message"), [
    ("migration_status", ["nope"], "no migrations for app"),
    ("rollback", ["--steps", "0"], "--steps must be 1 or more"),
    ("rollback", ["--steps", "999"], "only"),
    ("migrate", ["nope"], "No installed app with label 'nope'"),
])  # fmt: skip
def test_bad_names_and_numbers_are_one_clear_error(command, args, message):
    with pytest.raises(CommandError, match=message):
        call_command(command, *args, stdout=io.StringIO())


@pytest.mark.server_timers
def test_a_migration_behind_traffic_fails_fast_on_lock_timeout(risky_app, settings):
    settings.GOVA_MIGRATION_LOCK_TIMEOUT = "300ms"
    call_command("migrate", "riskyapp", "0001", verbosity=0)
    params = connection.get_connection_params()
    server = {key: params[key] for key in ("host", "port", "user", "password", "dbname")}
    with psycopg.connect(**server) as traffic:  # a long transaction reading the table
        traffic.execute("SELECT count(*) FROM evaluation_events")
        with pytest.raises(CommandError, match=r"longer than lock_timeout \(300ms\)"):
            call_command("migrate", "riskyapp", "0002", verbosity=0)
    assert applied() == ["0001_initial"] and not has_scratch_column()
    with connection.cursor() as cursor:  # the session settings were put back
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "0"


def test_a_dry_run_reports_what_the_real_run_would_refuse(risky_app):
    call_command("migrate", "riskyapp", "0002", verbosity=0)
    EvaluationEventFactory()
    out = io.StringIO()
    with pytest.raises(CommandError, match="would be refused: refusing to lose event data"):
        call_command("rollback", "--dry-run", stdout=out)
    assert "undo riskyapp.0002_add_scratch_column" in out.getvalue()
    assert has_scratch_column()
