"""An interrupted concurrent index build (client killed, build cancelled) is finished by running migrate again."""

import io

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings

from dbops.rollback_planning import applied_in_order

INDEX = "indexapp_item_label_idx"


def execute(sql: str):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall() if cursor.description else None


def index_state():
    """(oid, valid, definition) of the index, or None."""
    rows = execute(
        "SELECT i.indexrelid::int, i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        f"WHERE i.indexrelid = to_regclass('{INDEX}')"
    )
    return rows[0] if rows else None


def index_recorded() -> bool:
    return any(m.key == ("indexapp", "0002_item_label_index") for m in applied_in_order(connection))


@pytest.fixture
def index_app(transactional_db, settings):
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, "tests.fixture_apps.indexapp"]):
        call_command("migrate", "indexapp", "0001", verbosity=0)
        try:
            yield
        finally:
            call_command("migrate", "indexapp", "zero", verbosity=0)


def test_a_valid_identical_index_left_by_a_killed_client_is_adopted(index_app):
    execute(f"CREATE INDEX {INDEX} ON indexapp_item (label)")  # PostgreSQL finished; the client never recorded it
    oid = index_state()[0]
    call_command("migrate", "indexapp", verbosity=0)
    assert index_recorded()
    assert index_state()[:2] == (oid, True)


def test_an_invalid_leftover_of_a_failed_build_is_dropped_and_rebuilt(index_app):
    execute("INSERT INTO indexapp_item (label) VALUES ('same'), ('same')")
    params = connection.get_connection_params()
    server = {key: params[key] for key in ("host", "port", "user", "password", "dbname")}
    with psycopg.connect(**server, autocommit=True) as other, pytest.raises(psycopg.errors.UniqueViolation):
        # A build that fails half-way, as a cancelled or killed one does: PostgreSQL keeps the INVALID index.
        other.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {INDEX} ON indexapp_item (label)")
    assert index_state()[1] is False
    call_command("migrate", "indexapp", verbosity=0)
    assert index_recorded()
    _, valid, definition = index_state()
    assert valid and "UNIQUE" not in definition


def test_an_index_of_the_same_name_with_another_definition_stops_migrate_and_is_kept(index_app):
    execute(f"CREATE INDEX {INDEX} ON indexapp_item (label DESC)")
    with pytest.raises(CommandError, match=f"index {INDEX} already exists with another definition"):
        call_command("migrate", "indexapp", verbosity=0)
    assert not index_recorded()
    assert "label DESC" in index_state()[2]


def test_schema_check_names_an_invalid_index(index_app):
    call_command("migrate", "indexapp", verbosity=0)
    execute(f"UPDATE pg_index SET indisvalid = false WHERE indexrelid = '{INDEX}'::regclass")  # test server: superuser
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("schema_check", stdout=out)
    expected = f"~ index {INDEX}: INVALID, a build that did not finish: REINDEX INDEX CONCURRENTLY {INDEX}"
    assert expected in out.getvalue()


def test_check_migrations_requires_the_rerunnable_operation_on_event_tables(settings):
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, "tests.fixture_apps.plainindexapp"]):
        with pytest.raises(
            CommandError,
            match="plainindex_status_idx on action_events: use dbops.operations.RerunnableAddIndexConcurrently",
        ):
            call_command("check_migrations", "plainindexapp", stdout=io.StringIO())
