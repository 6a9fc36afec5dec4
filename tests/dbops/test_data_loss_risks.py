"""Which operations the data-loss guard sees as dropping or narrowing event data."""

import pytest
from django.db import connection, migrations, models

from dbops.migration_guard import _narrows, data_loss_risks
from dbops.operations import EventTableSQL


def risks(*operations, backwards=False) -> list[str]:
    migration = migrations.Migration("9999_under_review", "moderation")
    migration.operations = list(operations)
    return [f"{risk.table}: {risk.what}" for risk in data_loss_risks(connection, [(migration, backwards)])]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        (migrations.RemoveField("evaluationevent", "embedding"), ["evaluation_events: drops column embedding"]),
        (migrations.DeleteModel("ActionEvent"), ["action_events: drops the table"]),
        (
            migrations.AlterField("evaluationevent", "platform_user_id", models.CharField(max_length=20)),
            ["evaluation_events: changes column platform_user_id from varchar to varchar(20)"],
        ),
        (
            migrations.AlterField(
                "evaluationevent", "severity_score", models.DecimalField(max_digits=3, decimal_places=2)
            ),
            ["evaluation_events: changes column severity_score from double precision to numeric(3, 2)"],
        ),
        (
            EventTableSQL(
                "UPDATE evaluation_events SET context = '{}'", "", destroys=["evaluation_events"], reverse_destroys=[]
            ),
            ["evaluation_events: drops or rewrites rows (declared)"],
        ),  # fmt: skip
        # Undeclared SQL naming an event table is a risk whatever it says: the guard does not read SQL.
        (
            migrations.RunSQL("UPDATE evaluation_events SET context = '{}'", ""),
            ["evaluation_events: runs SQL that declares nothing"],
        ),
        (
            migrations.RunSQL(["ALTER TABLE Action_Events SET (fillfactor = 90)"], ""),
            ["action_events: runs SQL that declares nothing"],
        ),
    ],
)
def test_destructive_operations_on_event_tables_are_seen(operation, expected):
    assert risks(operation) == expected


@pytest.mark.django_db
@pytest.mark.parametrize(
    "operation",
    [
        migrations.AddField("evaluationevent", "language", models.CharField(max_length=None, null=True)),
        migrations.AlterField("actionevent", "reason", models.TextField(null=True, blank=True)),
        migrations.RemoveField("moderator", "description"),  # not an event table
        EventTableSQL(
            "ALTER TABLE evaluation_events SET (fillfactor = 90)",
            "ALTER TABLE evaluation_events RESET (fillfactor)",
            destroys=(),
            reverse_destroys=(),
        ),  # fmt: skip
        migrations.RunSQL("DROP INDEX IF EXISTS some_other_idx", migrations.RunSQL.noop),
        migrations.RunSQL("DELETE FROM moderators WHERE false", migrations.RunSQL.noop),
    ],
)
def test_safe_operations_are_not_flagged(operation):
    assert risks(operation) == []


@pytest.mark.django_db
def test_declarations_are_read_in_the_direction_the_plan_runs():
    adds_column = EventTableSQL(
        "ALTER TABLE evaluation_events ADD COLUMN x int", "ALTER TABLE evaluation_events DROP COLUMN x",
        destroys=(), reverse_destroys=("evaluation_events",),
    )  # fmt: skip
    assert risks(adds_column) == []
    assert risks(adds_column, backwards=True) == ["evaluation_events: drops or rewrites rows (declared)"]


def test_a_declaration_names_only_event_tables():
    with pytest.raises(ValueError, match="not event tables: moderators"):
        EventTableSQL("DELETE FROM moderators", "", destroys=("moderators",), reverse_destroys=())


@pytest.mark.django_db
def test_undoing_an_added_event_column_drops_it():
    added = migrations.AddField("evaluationevent", "language", models.CharField(max_length=None, null=True))
    assert risks(added, backwards=True) == ["evaluation_events: drops column language"]


@pytest.mark.parametrize(
    ("old", "new", "narrower"),
    [
        ("varchar", "varchar(50)", True),
        ("varchar(100)", "varchar(50)", True),
        ("varchar(50)", "varchar(100)", False),
        ("varchar(50)", "varchar", False),
        ("varchar", "text", False),
        ("integer", "bigint", False),
        ("bigint", "integer", True),
        ("double precision", "real", True),
        ("vector(1024)", "vector(384)", True),
        ("jsonb", "jsonb", False),
    ],
)
def test_narrowing_type_changes(old, new, narrower):
    assert _narrows(old, new) is narrower
