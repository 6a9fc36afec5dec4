"""The rules every migration of this project follows, checked (the old service's migration template, as a lint).

- every operation can run backwards: RunSQL has reverse_sql, RunPython has reverse_code;
- every new model's primary key defaults to uuidv7() in the database;
- an index added to an existing event table is built CONCURRENTLY, in a non-atomic migration;
- migrations are named for what they do (no `auto_<timestamp>` names).
"""

from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations
from django.db.migrations.loader import MigrationLoader

from dbops.event_tables import EVENT_TABLES
from gova.db import UUIDv7


def project_app_labels() -> list[str]:
    """Apps whose code lives in this repository (not Django's or a library's)."""
    base = Path(settings.BASE_DIR).resolve()
    return sorted(
        config.label
        for config in apps.get_app_configs()
        if base in Path(config.path).resolve().parents and "site-packages" not in Path(config.path).parts
    )


def convention_violations(app_labels=None) -> list[str]:
    app_labels = set(app_labels or project_app_labels())
    loader = MigrationLoader(None, ignore_no_migrations=True)
    problems = []
    for (app_label, name), migration in sorted(loader.disk_migrations.items()):
        if app_label not in app_labels:
            continue
        label = f"{app_label}.{name}"
        if "_auto_" in name:
            problems.append(f"{label}: name it for what it does (makemigrations --name ...)")
        state = loader.project_state((app_label, name), at_end=False)
        created_here = set()
        for operation in migration.operations:
            problems.extend(
                f"{label}: {problem}" for problem in _operation_problems(operation, migration, state, created_here)
            )
            operation.state_forwards(app_label, state)
    return problems


def _operation_problems(operation, migration, state, created_here):
    if isinstance(operation, migrations.RunSQL) and operation.reverse_sql is None:
        yield (
            f"RunSQL without reverse_sql ({_short(operation.sql)}); "
            "use migrations.RunSQL.noop and say why if nothing is to undo"
        )
    elif isinstance(operation, migrations.RunPython) and operation.reverse_code is None:
        yield f"RunPython {operation.code.__name__} without reverse_code"
    elif not operation.reversible:
        yield f"irreversible operation: {operation.describe()}"

    if isinstance(operation, migrations.CreateModel) and not operation.options.get("proxy"):  # a proxy has no table
        created_here.add(operation.name_lower)
        primary_key = next((field for _, field in operation.fields if field.primary_key), None)
        if primary_key is None or not isinstance(getattr(primary_key, "db_default", None), UUIDv7):
            yield f"model {operation.name}: its primary key must have db_default=UUIDv7() (gova.db.uuid7_primary_key)"

    if isinstance(operation, migrations.AddIndex) and operation.model_name_lower not in created_here:
        model_state = state.models[(migration.app_label, operation.model_name_lower)]
        table = model_state.options.get("db_table") or f"{migration.app_label}_{operation.model_name_lower}"
        if table in EVENT_TABLES:
            if not isinstance(operation, AddIndexConcurrently):
                yield f"index {operation.index.name} on {table}: use AddIndexConcurrently (a plain build blocks writes)"
            elif migration.atomic:
                yield f"index {operation.index.name} on {table}: AddIndexConcurrently needs atomic = False"


def _short(sql) -> str:
    text = sql if isinstance(sql, str) else str(sql)
    return text.strip().splitlines()[0][:60] if text.strip() else "empty"
