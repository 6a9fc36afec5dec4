"""Which operations the data-loss guard sees as dropping or narrowing event data."""

import pytest
from django.db import connection, migrations, models

from dbops.migration_guard import _narrows, data_loss_risks


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
        (migrations.RunSQL("TRUNCATE action_events", migrations.RunSQL.noop), ["action_events: runs destructive SQL"]),
        (
            migrations.RunSQL(["DELETE FROM evaluation_events WHERE severity_score < 0.1"], ""),
            ["evaluation_events: runs destructive SQL"],
        ),
        (
            migrations.RunSQL("ALTER TABLE evaluation_events DROP COLUMN context", ""),
            ["evaluation_events: runs destructive SQL"],
        ),
        (migrations.RunSQL("alter table action_events drop reason", ""), ["action_events: runs destructive SQL"]),
        (migrations.RunSQL("DROP TABLE action_events", ""), ["action_events: runs destructive SQL"]),
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
        migrations.RunSQL("ALTER TABLE evaluation_events SET (fillfactor = 90)", migrations.RunSQL.noop),
        migrations.RunSQL("DROP INDEX IF EXISTS some_other_idx", migrations.RunSQL.noop),
        migrations.RunSQL("ALTER TABLE evaluation_events DROP CONSTRAINT evaluation_severity_range", ""),
        migrations.RunSQL("ALTER TABLE action_events ALTER COLUMN reason DROP NOT NULL", ""),
    ],
)
def test_safe_operations_are_not_flagged(operation):
    assert risks(operation) == []


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
