"""`manage.py schema_check` against hand-made drift on the real test database.

Each test changes the schema outside migrations and puts it back in a `finally`, so later tests
(and the check's own clean run) see the schema the migrations built. transaction=True: the command
reads the catalog through its own scratch connection and database, which must see committed changes.
"""

import io
from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.db import connection

import dbops.schema_check
from dbops import sql_versions
from moderation import vector_index
from moderation.models import EMBEDDING_DIMENSIONS, ActionEvent, EvaluationEvent

# Every check builds and drops a scratch database.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def run_schema_check() -> tuple[int, str]:
    """(exit code, output) of the command run in-process."""
    out = io.StringIO()
    try:
        call_command("schema_check", stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def execute(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else None


@contextmanager
def changed_by_hand(forward: str, backward: str):
    """Apply `forward` as a DBA would, outside migrations; `backward` always restores the migrated schema."""
    execute(forward)
    try:
        yield
    finally:
        execute(backward)


def foreign_key(table: str, column: str) -> tuple[str, str]:
    [(name, definition)] = execute(
        "SELECT con.conname, pg_get_constraintdef(con.oid) FROM pg_constraint con "
        "JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1] "
        "WHERE con.contype = 'f' AND con.conrelid = %s::regclass AND a.attname = %s",
        [table, column],
    )
    return name, definition


def scratch_databases() -> list[str]:
    """This database's scratch copies: another pytest-xdist worker may be running a schema_check of its own."""
    prefix = connection.settings_dict["NAME"][:40].replace("_", "\\_")
    rows = execute("SELECT datname FROM pg_database WHERE datname LIKE %s", [f"{prefix}\\_schema\\_check\\_%"])
    return [name for (name,) in rows]


def test_migrated_database_is_in_sync_and_leaves_no_scratch_database():
    # An earlier test's flush empties the parts list but leaves its indexes; a fold drops such orphans first, as it
    # does after a database is restored or flushed (the tables are empty: it builds nothing).
    vector_index.fold(lag_seconds=0)
    code, output = run_schema_check()
    assert code == 0, output
    assert "schema is in sync" in output
    assert scratch_databases() == []


def test_dropped_index_is_reported_missing():
    index = next(i for i in EvaluationEvent._meta.indexes if i.name == "evaluation_mod_created_key_idx")
    execute("DROP INDEX evaluation_mod_created_key_idx")
    try:
        code, output = run_schema_check()
    finally:
        with connection.schema_editor() as editor:
            editor.add_index(EvaluationEvent, index)
    assert code == 1
    assert "drift in evaluation_events:\n" in output
    assert (
        "  - index evaluation_mod_created_key_idx: missing (USING btree (moderator_id, created_at, event_id))" in output
    )


@pytest.mark.parametrize(
    ("forward", "backward", "expected_line"),
    [
        (
            "ALTER TABLE action_events ALTER COLUMN reason TYPE varchar(10)",
            "ALTER TABLE action_events ALTER COLUMN reason TYPE varchar",
            "~ column reason: type character varying (expected), character varying(10) (live)",
        ),
        (
            "ALTER TABLE action_events ALTER COLUMN reason SET NOT NULL",
            "ALTER TABLE action_events ALTER COLUMN reason DROP NOT NULL",
            "~ column reason: nullability NULL (expected), NOT NULL (live)",
        ),
        (
            "ALTER TABLE action_events ALTER COLUMN created_at DROP DEFAULT",
            "ALTER TABLE action_events ALTER COLUMN created_at SET DEFAULT STATEMENT_TIMESTAMP()",
            "~ column created_at: default statement_timestamp() (expected), none (live)",
        ),
    ],
    ids=["type", "not-null", "default"],
)
def test_column_altered_outside_migrations_is_reported(forward, backward, expected_line):
    with changed_by_hand(forward, backward):
        code, output = run_schema_check()
    assert code == 1
    assert "drift in action_events:\n" in output
    assert f"  {expected_line}\n" in output


def test_missing_vector_extension_is_reported():
    # CASCADE takes the embedding column along, and with it its HNSW parts, evaluation_fold_seq_idx (its predicate
    # names the column), the refold trigger (UPDATE OF embedding) and evaluation_event_insert() (a vector argument);
    # all but the parts come back in the finally, the parts at the next fold_embeddings (a part whose index is gone
    # is searched exactly meanwhile).
    embedding = EvaluationEvent._meta.get_field("embedding")
    fold_seq_index = next(index for index in EvaluationEvent._meta.indexes if index.name == "evaluation_fold_seq_idx")
    execute("DROP EXTENSION vector CASCADE")
    try:
        code, output = run_schema_check()
    finally:
        execute("CREATE EXTENSION vector")
        with connection.schema_editor() as editor:
            editor.add_field(EvaluationEvent, embedding)
            editor.add_index(EvaluationEvent, fold_seq_index)
        execute(sql_versions.versions("moderation")["evaluation_event_insert"][-1].read())
        execute(sql_versions.versions("moderation")["evaluation_events_refold_trigger"][-1].read())
    assert code == 1
    assert "drift in database:\n  - extension vector: missing\n" in output
    assert f"  - column embedding: missing (vector({EMBEDDING_DIMENSIONS}))\n" in output


def test_function_replaced_by_an_older_version_is_reported_by_version_file():
    *_, older, current = sql_versions.versions("moderation")["evaluation_event_insert"]
    with changed_by_hand(older.replacing(), current.replacing()):
        code, output = run_schema_check()
    assert code == 1
    assert (
        "drift in database:\n  ~ function evaluation_event_insert(uuid,uuid,text,double precision,jsonb,vector,"
        f"timestamp with time zone,bigint): runs {older.label}; the applied migrations load {current.label}\n"
    ) in output


def test_dropped_check_constraint_is_reported_missing():
    constraint = next(c for c in EvaluationEvent._meta.constraints if c.name == "evaluation_severity_range")
    execute("ALTER TABLE evaluation_events DROP CONSTRAINT evaluation_severity_range")
    try:
        code, output = run_schema_check()
    finally:
        with connection.schema_editor() as editor:
            editor.add_constraint(EvaluationEvent, constraint)
    assert code == 1
    assert "  - check constraint evaluation_severity_range: missing (CHECK (" in output


def test_cascade_replaced_by_no_action_is_reported():
    # The rule comes from moderation 0002 (SetForeignKeyOnDelete), not from the model: Django 5.2 sets none.
    name, definition = foreign_key("action_events", "moderator_id")
    assert "ON DELETE CASCADE" in definition
    without_rule = definition.replace(" ON DELETE CASCADE", "")
    with changed_by_hand(
        f"ALTER TABLE action_events DROP CONSTRAINT {name}, ADD CONSTRAINT {name} {without_rule}",
        f"ALTER TABLE action_events DROP CONSTRAINT {name}, ADD CONSTRAINT {name} {definition}",
    ):
        code, output = run_schema_check()
    assert code == 1
    assert f"  ~ foreign key {name}: ON DELETE CASCADE (expected), NO ACTION (live)\n" in output


def test_extra_index_and_column_are_reported():
    with (
        changed_by_hand(
            "CREATE INDEX action_reason_by_hand ON action_events (reason)",
            "DROP INDEX action_reason_by_hand",
        ),
        changed_by_hand("ALTER TABLE moderators ADD COLUMN notes text", "ALTER TABLE moderators DROP COLUMN notes"),
    ):
        code, output = run_schema_check()
    assert code == 1
    assert "  + index action_reason_by_hand: not in migrations (USING btree (reason))\n" in output
    assert "drift in moderators:\n  + column notes: not in migrations (text)\n" in output


def test_renamed_index_is_reported_under_its_expected_name():
    with changed_by_hand(
        "ALTER INDEX action_type_idx RENAME TO action_kind_idx", "ALTER INDEX action_kind_idx RENAME TO action_type_idx"
    ):
        code, output = run_schema_check()
    assert code == 1
    assert "  ~ index action_type_idx: named action_kind_idx in the live database\n" in output


def test_expectation_follows_applied_migrations_only():
    # With moderation 0002 unrecorded the scratch database stops at 0001, whose foreign keys have no rule:
    # the live CASCADE rules are then drift, and the unapplied file is named.
    [(migration_id, applied)] = execute(
        "SELECT id, applied FROM django_migrations WHERE app = 'moderation' AND name = %s",
        ["0002_foreign_keys_on_delete_cascade"],
    )
    execute("DELETE FROM django_migrations WHERE id = %s", [migration_id])
    try:
        code, output = run_schema_check()
    finally:
        execute(
            "INSERT INTO django_migrations (id, app, name, applied) VALUES (%s, 'moderation', %s, %s)",
            [migration_id, "0002_foreign_keys_on_delete_cascade", applied],
        )
    name, _ = foreign_key("action_events", "moderator_id")
    assert code == 1
    assert "  - migration moderation.0002_foreign_keys_on_delete_cascade: not applied\n" in output
    assert f"  ~ foreign key {name}: ON DELETE NO ACTION (expected), CASCADE (live)\n" in output


def test_applied_migration_missing_from_the_project_is_reported():
    with changed_by_hand(
        "INSERT INTO django_migrations (app, name, applied) VALUES ('moderation', '0099_ghost', now())",
        "DELETE FROM django_migrations WHERE app = 'moderation' AND name = '0099_ghost'",
    ):
        code, output = run_schema_check()
    assert code == 1
    assert "  + migration moderation.0099_ghost: applied on the live database, not in the project\n" in output


def test_model_change_without_migration_is_reported(monkeypatch):
    # As if action_type_idx had been deleted from ActionEvent.Meta without running makemigrations.
    kept = [index for index in ActionEvent._meta.indexes if index.name != "action_type_idx"]
    monkeypatch.setattr(ActionEvent._meta, "indexes", kept)
    code, output = run_schema_check()
    assert code == 1
    assert "drift in models:\n" in output
    assert "~ app moderation: models have changes not in migrations: Remove index action_type_idx" in output


def test_scratch_database_is_dropped_when_the_check_fails(monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("interrupted while the scratch database exists")

    # Fails inside the scratch database's `with` block, after its migrations ran.
    monkeypatch.setattr(dbops.schema_check, "pending_migrations", fail)
    with pytest.raises(RuntimeError, match="interrupted"):
        run_schema_check()
    assert scratch_databases() == []


def test_drift_exits_1_in_a_shell(manage, database_url):
    """The exit status a deploy script sees, from a real `manage.py` process on the test database."""
    url = database_url(connection.settings_dict["NAME"])
    with changed_by_hand(
        "ALTER TABLE action_events ALTER COLUMN reason SET NOT NULL",
        "ALTER TABLE action_events ALTER COLUMN reason DROP NOT NULL",
    ):
        result = manage("schema_check", "--database", "default", env={"DATABASE_URL": url})
    assert result.returncode == 1, result.stderr
    assert "~ column reason: nullability NULL (expected), NOT NULL (live)" in result.stdout
