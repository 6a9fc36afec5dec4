"""Refuse migrations that would drop or narrow event data unless a backup of the current schema exists.

Covered, forwards and backwards: RemoveField, DeleteModel, AlterField to a narrower type; undoing
AddField or CreateModel (which drops the column or table); SQL on an event table as its
`EventTableSQL` declares it, and a plain RunSQL that names an event table without declaring
anything (check_migrations refuses those in this project's apps). RunPython cannot be read and is
not judged.
"""

import re
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.management.base import CommandError
from django.db import migrations
from django.db.migrations.recorder import MigrationRecorder

from dbops.backups import fresh_backup
from dbops.event_tables import EVENT_TABLES, event_tables_named, has_rows, table_of
from dbops.operations import EventTableSQL

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
            if isinstance(operation, EventTableSQL):
                declared = operation.reverse_destroys if backwards else operation.destroys
                found = [(table, "drops or rewrites rows (declared)") for table in declared]
            elif isinstance(operation, migrations.RunSQL):
                sql = operation.reverse_sql if backwards else operation.sql
                found = [(table, "runs SQL that declares nothing") for table in event_tables_named(sql)]
            elif before is not None:
                found = _model_risks(connection, migration.app_label, operation, before, state, backwards)
            else:
                continue
            risks.extend(DataLossRisk(migration, table, what) for table, what in found)
    return risks


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
    table = table_of(model_state)
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
    """Raise CommandError, before anything runs, for each risk on a table that has rows and no fresh backup.

    A backup counts when it holds the table, was taken at exactly the migrations applied now (the
    schema it would be restored onto, once the plan is undone) and is younger than
    GOVA_BACKUP_MAX_AGE_HOURS.
    """
    if allow:
        return
    risks = data_loss_risks(connection, plan)
    if not risks:
        return
    applied = {f"{app}.{name}" for app, name in MigrationRecorder(connection).applied_migrations()}
    max_age = timedelta(hours=settings.GOVA_BACKUP_MAX_AGE_HOURS)
    with connection.cursor() as cursor:
        unbacked = [
            risk
            for risk in risks
            if has_rows(cursor, risk.table)
            and fresh_backup(risk.table, settings.GOVA_BACKUP_DIR, applied=applied, max_age=max_age) is None
        ]
    if unbacked:
        tables = sorted({risk.table for risk in unbacked})
        raise CommandError(
            "refusing to lose event data: " + "; ".join(map(str, unbacked)) + ". Nothing was applied. "
            f"Back up first (python manage.py backup_events {' '.join(f'--table {t}' for t in tables)}), "
            "or pass --allow-data-loss."
        )
