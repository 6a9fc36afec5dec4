"""Functions and triggers live in version files (dbops.sql_versions): migrations run them, the database runs the
newest, and the conventions refuse a file out of place or a newest version that no migration runs."""

import shutil

import pytest
from django.db import connection

from dbops import sql_versions
from dbops.conventions import convention_violations, project_app_labels
from dbops.operations import RunSQLVersions
from moderation.models import BEHAVIOUR_WINDOW


def live_functions() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = ANY(current_schemas(false))"
        )
        return dict(cursor.fetchall())


@pytest.mark.django_db
def test_every_versioned_function_runs_its_newest_version():
    versioned = sql_versions.function_versions(project_app_labels())
    assert {"evaluation_event_insert", "behaviour_window", "evaluation_latest_scores_refresh"} <= set(versioned)
    live = live_functions()
    runs = {name: sql_versions.version_of(files, live.get(name, "")) for name, files in versioned.items()}
    assert runs == {name: files[-1].label for name, files in versioned.items()}


@pytest.mark.django_db
def test_every_versioned_trigger_exists():
    triggers = [
        name
        for app_label in project_app_labels()
        for name, files in sql_versions.versions(app_label).items()
        if files[-1].kind() == "trigger"
    ]
    assert "evaluation_latest_scores_insert" in triggers
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgname = ANY(%s)", [triggers])
        assert sorted(name for (name,) in cursor.fetchall()) == sorted(triggers)


@pytest.mark.django_db
def test_python_and_the_database_share_one_window_size():
    with connection.cursor() as cursor:
        cursor.execute("SELECT behaviour_window()")
        assert cursor.fetchone()[0] == BEHAVIOUR_WINDOW


def test_backwards_a_function_gets_its_previous_version_back():
    first, second = (sql_versions.version("moderation", "evaluation_event_insert", n) for n in (1, 2))
    operation = RunSQLVersions("moderation", {"evaluation_event_insert": 2}, destroys=(), reverse_destroys=())
    assert operation.sql == second.read()
    assert first.read().startswith("CREATE FUNCTION evaluation_event_insert(")
    assert operation.reverse_sql == first.read().replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    assert operation.describe() == "Run moderation/sql/evaluation_event_insert/v2.sql"


def test_a_first_version_needs_its_drop_given():
    with pytest.raises(ValueError, match="a first version has no earlier one; give reverse_sql"):
        RunSQLVersions("moderation", {"behaviour_window": 1}, destroys=(), reverse_destroys=())


def test_deconstruct_keeps_the_versions_not_the_text():
    operation = RunSQLVersions("moderation", {"evaluation_event_insert": 3}, destroys=(), reverse_destroys=())
    name, args, kwargs = operation.deconstruct()
    assert (name, args) == ("RunSQLVersions", [])
    assert kwargs == {
        "app_label": "moderation",
        "versions": {"evaluation_event_insert": 3},
        "destroys": (),
        "reverse_destroys": (),
    }


@pytest.fixture
def moderation_sql(tmp_path, monkeypatch):
    """A copy of moderation/sql that the conventions read instead of the real one."""
    copy = tmp_path / "sql"
    shutil.copytree(sql_versions.sql_root("moderation"), copy)
    real_root = sql_versions.sql_root
    monkeypatch.setattr(
        sql_versions, "sql_root", lambda app_label: copy if app_label == "moderation" else real_root(app_label)
    )
    return copy


def test_the_conventions_hold_for_the_project():
    assert [problem for problem in convention_violations() if "/sql/" in problem] == []


def test_a_newest_version_no_migration_runs_is_reported(moderation_sql):
    (moderation_sql / "behaviour_window" / "v2.sql").write_text(
        "CREATE OR REPLACE FUNCTION behaviour_window() RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 200 $$;\n"
    )
    assert convention_violations(["moderation"]) == [
        "moderation/sql/behaviour_window/v2.sql: no migration runs it, so no database has it "
        "(add a migration with dbops.operations.RunSQLVersions)"
    ]


def test_files_out_of_layout_are_reported(moderation_sql):
    (moderation_sql / "behaviour_window" / "v3.sql").write_text(
        "CREATE OR REPLACE FUNCTION window_size() RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 200 $$;\n"
    )
    (moderation_sql / "behaviour_window" / "notes.txt").write_text("")
    problems = convention_violations(["moderation"])
    assert "moderation/sql/behaviour_window: not a version file (v<N>.sql): notes.txt" in problems
    assert "moderation/sql/behaviour_window: versions [1, 3], expected v1 to v2" in problems
    assert (
        "moderation/sql/behaviour_window/v3.sql must create the behaviour_window it is filed under, and only it "
        "(found FUNCTION window_size)"
    ) in problems
