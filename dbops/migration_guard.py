"""Refuse migrations that would drop or narrow event data unless a fresh backup exists.

Covered, forwards and backwards: RemoveField, DeleteModel, AlterField to a narrower type, and
RunSQL that drops, truncates or deletes from an event table; undoing AddField or CreateModel
(which drops the column or table). RunPython cannot be read and is not judged.
"""

import re
import sys
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.db import migrations

from dbops.backups import latest_backup_time
from dbops.event_tables import EVENT_TABLES

# TRUNCATE, DELETE FROM, and any DROP but of objects that hold no rows (DROP TABLE, DROP [COLUMN] x).
DESTRUCTIVE_SQL = re.compile(
    r"\b(TRUNCATE|DELETE\s+FROM)\b|\bDROP\s+(?!(CONSTRAINT|INDEX|DEFAULT|NOT\s+NULL|TRIGGER|IDENTITY"
    r"|EXPRESSION|POLICY|RULE|STATISTICS|FUNCTION|VIEW|EXTENSION)\b)",
    re.IGNORECASE,
)
# The operations whose effect on rows depends on the model: all others leave rows alone.
MODEL_OPERATIONS = (
    migrations.CreateModel,
    migrations.DeleteModel,
    migrations.AddField,
    migrations.RemoveField,
    migrations.AlterField,
)
# Type changes that keep every value: anything else on an event column may lose data.
WIDENINGS = {("smallint", "integer"), ("smallint", "bigint"), ("integer", "bigint"), ("real", "double precision")}


# Set by `migrate --allow-data-loss` (or --fake) for the pre_migrate receiver, which sees the plan
# but not the command's options.
allow_data_loss = ContextVar("allow_data_loss", default=False)


@dataclass(frozen=True)
class DataLossRisk:
    migration: object
    table: str
    what: str

    def __str__(self) -> str:
        return f"{self.migration.app_label}.{self.migration.name} {self.what} in {self.table}"


def data_loss_risks(connection, plan) -> list[DataLossRisk]:
    """The risks in a migrate plan, a list of (migration, backwards) pairs."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connection, ignore_no_migrations=True)
    risks = []
    for migration, backwards in plan:
        key = (migration.app_label, migration.name)
        # A migration not on disk yet (one being written, or a test's) is judged against the current head.
        state = loader.project_state(key, at_end=False) if key in loader.graph.nodes else loader.project_state()
        for operation in migration.operations:
            before = state.clone() if isinstance(operation, MODEL_OPERATIONS) else None
            operation.state_forwards(migration.app_label, state)
            if isinstance(operation, migrations.RunSQL):
                found = _sql_risks(operation.reverse_sql if backwards else operation.sql)
            elif before is not None:
                found = _model_risks(connection, migration.app_label, operation, before, state, backwards)
            else:
                continue
            risks.extend(DataLossRisk(migration, table, what) for table, what in found)
    return risks


def _sql_risks(sql) -> list[tuple[str, str]]:
    text = _sql_text(sql)
    if not DESTRUCTIVE_SQL.search(text):
        return []
    return [(table, "runs destructive SQL") for table in EVENT_TABLES if re.search(rf"\b{table}\b", text)]


def _model_risks(connection, app_label, operation, before, after, backwards) -> list[tuple[str, str]]:
    """What a model operation drops or narrows; the states are read, never rendered, unless an event table is hit."""
    model_name = (
        operation.name_lower
        if isinstance(operation, (migrations.CreateModel, migrations.DeleteModel))
        else operation.model_name_lower
    )
    # The model as it is where its data still exists: before a forward drop, after what a backward step undoes.
    state = before if not backwards else after
    model_state = state.models.get((app_label, model_name))
    if model_state is None:
        return []
    table = model_state.options.get("db_table") or f"{app_label}_{model_name}"
    if table not in EVENT_TABLES:
        return []
    if isinstance(operation, migrations.DeleteModel if not backwards else migrations.CreateModel):
        return [(table, "drops the table")]
    if isinstance(operation, migrations.RemoveField if not backwards else migrations.AddField):
        field = model_state.fields[operation.name]
        return [(table, f"drops column {field.db_column or operation.name}")]
    if isinstance(operation, migrations.AlterField):
        old_state, new_state = (after, before) if backwards else (before, after)
        old, new = (
            s.apps.get_model(app_label, model_name)._meta.get_field(operation.name).db_type(connection)
            for s in (old_state, new_state)
        )
        if _narrows(old, new):
            return [(table, f"changes column {operation.name} from {old} to {new}")]
    return []


def _sql_text(sql) -> str:
    """RunSQL takes a string, or a list of strings and (sql, params) pairs."""
    if sql is None or isinstance(sql, str):
        return sql or ""
    return " ".join(item[0] if isinstance(item, (list, tuple)) else item for item in sql)


def _narrows(old: str, new: str) -> bool:
    if old == new or (old, new) in WIDENINGS:
        return False
    varchar = re.compile(r"varchar(?:\((\d+)\))?")
    old_match, new_match = varchar.fullmatch(old), varchar.fullmatch(new)
    if old_match and new_match:
        old_length, new_length = old_match.group(1), new_match.group(1)
        return new_length is not None and (old_length is None or int(new_length) < int(old_length))
    if (old_match or old == "text") and new in ("text", "varchar"):
        return False
    return True


def ensure_no_unbacked_data_loss(connection, plan, *, allow: bool) -> None:
    """Raise CommandError, before anything runs, for each risk on a table that has rows and no backup
    newer than the migration's file."""
    unbacked = []
    for risk in data_loss_risks(connection, plan):
        if allow or not _has_rows(connection, risk.table):
            continue
        written = datetime.fromtimestamp(
            Path(sys.modules[type(risk.migration).__module__].__file__).stat().st_mtime, UTC
        )
        backed_up = latest_backup_time(risk.table, settings.GOVA_BACKUP_DIR)
        if backed_up is None or backed_up < written:
            unbacked.append(risk)
    if unbacked:
        tables = sorted({risk.table for risk in unbacked})
        raise CommandError(
            "refusing to lose event data: " + "; ".join(map(str, unbacked)) + ". Nothing was applied. "
            f"Back up first (python manage.py backup_events {' '.join(f'--table {t}' for t in tables)}), "
            "or pass --allow-data-loss."
        )


def _has_rows(connection, table: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        if not cursor.fetchone()[0]:
            return False
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {connection.ops.quote_name(table)})")
        return cursor.fetchone()[0]
