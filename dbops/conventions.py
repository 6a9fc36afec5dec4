"""The rules every migration of this project follows (the old service's migration template, as a lint).

Only rules of our own; what Django enforces at run time (AddIndexConcurrently outside an atomic
migration, say) is left to Django.

- every operation can run backwards: RunSQL has reverse_sql, RunPython has reverse_code;
- every new model's primary key defaults to uuidv7() in the database (a composite natural key excepted);
- an index added to an existing event table is built CONCURRENTLY, re-runnably (RerunnableAddIndexConcurrently);
- SQL that names an event table declares what it does to the rows (dbops.operations.EventTableSQL);
- tables and columns that hold data are never renamed (use db_table / db_column): a rename breaks
  every other reader of the database, the old service included, at the moment it is applied;
- a data migration imports no app code: it reads models through `apps.get_model`, as they were then;
- migrations are named for what they do (no `auto_<timestamp>` names);
- functions and triggers live in version files (dbops.sql_versions): numbered v1, v2... without gaps, each
  creating the object its directory names, and the newest version of each is run by a migration.

`python manage.py check` runs them (a system check), and so does `python manage.py check_migrations`.
"""

import ast
import inspect
import sys
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.db import migrations, models
from django.db.migrations.loader import MigrationLoader

from dbops import sql_versions
from dbops.event_tables import EVENT_TABLES, event_tables_named, table_of
from dbops.operations import EventTableSQL, RerunnableAddIndexConcurrently, RunSQLVersions
from gova.db import UUIDv7

# What a data migration may import from this project: the paths documented for migrations.
MIGRATION_SAFE_MODULES = {"dbops.operations", "gova.db"}


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
    project_packages = {apps.get_app_config(label).name.split(".")[0] for label in project_app_labels()} | {"gova"}
    loader = MigrationLoader(None, ignore_no_migrations=True)
    problems = []
    for (app_label, name), migration in sorted(loader.disk_migrations.items()):
        if app_label not in app_labels:
            continue
        label = f"{app_label}.{name}"
        if "_auto_" in name:
            problems.append(f"{label}: name it for what it does (makemigrations --name ...)")
        if any(isinstance(operation, migrations.RunPython) for operation in migration.operations):
            problems.extend(f"{label}: {problem}" for problem in _app_code_imports(migration, project_packages))
        state = loader.project_state((app_label, name), at_end=False)
        created_here = set()
        for operation in migration.operations:
            problems.extend(
                f"{label}: {problem}" for problem in _operation_problems(operation, migration, state, created_here)
            )
            operation.state_forwards(app_label, state)
    problems.extend(_sql_version_problems(loader, app_labels))
    return problems


def check_migration_conventions(app_configs=None, **kwargs) -> list[checks.Error]:
    """System check: every broken convention is an error of `manage.py check`."""
    return [
        checks.Error(problem, hint="See dbops/conventions.py for the rules.", id="dbops.E001")
        for problem in convention_violations()
    ]


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

    if isinstance(operation, migrations.RunSQL) and not isinstance(operation, EventTableSQL):
        named = event_tables_named(operation.sql) or event_tables_named(operation.reverse_sql)
        if named:
            yield (
                f"RunSQL on {', '.join(named)} ({_short(operation.sql)}): use dbops.operations.EventTableSQL "
                "and declare which event tables it destroys or rewrites (destroys=, reverse_destroys=)"
            )

    if isinstance(operation, migrations.CreateModel) and not operation.options.get("proxy"):  # a proxy has no table
        created_here.add(operation.name_lower)
        primary_key = next((field for _, field in operation.fields if field.primary_key), None)
        # A composite key is made of the row's own columns (a natural key): nothing to generate.
        if not isinstance(primary_key, models.CompositePrimaryKey) and (
            primary_key is None or not isinstance(getattr(primary_key, "db_default", None), UUIDv7)
        ):
            yield f"model {operation.name}: its primary key must have db_default=UUIDv7() (gova.db.uuid7_primary_key)"

    if isinstance(operation, migrations.RenameModel) and operation.old_name_lower not in created_here:
        yield (
            f"RenameModel {operation.old_name} -> {operation.new_name} on a live table: keep the table "
            "(Meta.db_table) and rename only the class"
        )
    if isinstance(operation, migrations.RenameField) and operation.model_name_lower not in created_here:
        yield (
            f"RenameField {operation.model_name}.{operation.old_name} -> {operation.new_name} on a live table: "
            f"keep the column (db_column={operation.old_name!r}) and rename only the attribute"
        )

    if isinstance(operation, migrations.AddIndex) and operation.model_name_lower not in created_here:
        table = table_of(state.models[(migration.app_label, operation.model_name_lower)])
        if table in EVENT_TABLES and not isinstance(operation, RerunnableAddIndexConcurrently):
            yield (
                f"index {operation.index.name} on {table}: use dbops.operations.RerunnableAddIndexConcurrently "
                "(a plain build blocks writes; Django's AddIndexConcurrently cannot be re-run after an interruption)"
            )


def _sql_version_problems(loader, app_labels):
    """Version files out of layout, and objects whose newest version no migration runs (no database runs it)."""
    run = {
        (operation.app_label, name, number)
        for migration in loader.disk_migrations.values()
        for operation in migration.operations
        if isinstance(operation, RunSQLVersions)
        for name, number in operation.versions.items()
    }
    for app_label in sorted(app_labels):
        yield from sql_versions.layout_problems(app_label)
        for files in sql_versions.versions(app_label).values():
            if files and (app_label, files[-1].name, files[-1].version) not in run:
                yield (
                    f"{files[-1].label}: no migration runs it, so no database has it "
                    "(add a migration with dbops.operations.RunSQLVersions)"
                )


def _app_code_imports(migration, project_packages):
    """Imports of this project's code in a migration that runs Python: the code it gets is today's, not the
    code of the migration's time (use apps.get_model; only MIGRATION_SAFE_MODULES are stable paths)."""
    tree = ast.parse(inspect.getsource(sys.modules[type(migration).__module__]))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
        else:
            continue
        for module in modules:
            if module.split(".")[0] in project_packages and module not in MIGRATION_SAFE_MODULES:
                yield f"a data migration imports app code ({module}): use apps.get_model in the function instead"


def _short(sql) -> str:
    text = sql if isinstance(sql, str) else str(sql)
    return text.strip().splitlines()[0][:60] if text.strip() else "empty"
