"""What has been applied, in the order it was applied, and plans to undo the latest of it."""

from dataclasses import dataclass
from datetime import datetime

from django.core.management.base import CommandError
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder


@dataclass(frozen=True)
class AppliedMigration:
    app: str
    name: str
    applied: datetime

    @property
    def key(self) -> tuple[str, str]:
        return (self.app, self.name)


def applied_in_order(connection) -> list[AppliedMigration]:
    """django_migrations rows, oldest first (by id: applied times can tie within one migrate run)."""
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return []
    rows = recorder.migration_qs.order_by("id").values_list("app", "name", "applied")
    return [AppliedMigration(*row) for row in rows]


def unknown_applied_migrations(loader: MigrationLoader) -> list[str]:
    """Migrations recorded as applied, of an app this checkout has migrations for, whose file is not here:
    the database is ahead of the code (an older image deployed after a newer one migrated)."""
    replaced = {key for migration in loader.disk_migrations.values() for key in migration.replaces or ()}
    return sorted(
        f"{app}.{name}"
        for app, name in loader.applied_migrations
        if app in loader.migrated_apps and (app, name) not in loader.disk_migrations and (app, name) not in replaced
    )


def ensure_code_not_behind(loader: MigrationLoader) -> None:
    unknown = unknown_applied_migrations(loader)
    if unknown:
        raise CommandError(
            f"the database is ahead of the code: applied migration(s) {', '.join(unknown)} are not in this checkout. "
            "Nothing was rolled back: deploy the code that has them, then roll back from there."
        )


def rollback_plan(executor: MigrationExecutor, steps: int, app_labels) -> list:
    """The migrations to unapply, in order, to undo the `steps` most recently applied ones of `app_labels`.

    Each undone migration brings along whatever applied migration depends on it (the graph's
    backwards plan), so no dependent is ever left applied.
    """
    if steps < 1:
        raise CommandError("--steps must be 1 or more")
    ensure_code_not_behind(executor.loader)
    graph = executor.loader.graph
    unknown_apps = sorted(set(app_labels) - executor.loader.migrated_apps)
    if unknown_apps:
        raise CommandError(f"no migrations for app(s) {', '.join(unknown_apps)}")
    applied = [m for m in applied_in_order(executor.connection) if m.key in graph.nodes and m.app in app_labels]
    if len(applied) < steps:
        raise CommandError(
            f"cannot roll back {steps} step(s): only {len(applied)} migration(s) of {', '.join(sorted(app_labels))} "
            "are applied"
        )
    undo = []
    for latest in reversed(applied[-steps:]):
        if latest.key in undo:
            continue  # already undone as a dependent of a later one
        for key in graph.backwards_plan(latest.key):
            if key in executor.loader.applied_migrations and key not in undo:
                undo.append(key)
    return [graph.nodes[key] for key in undo]


def irreversible_operations(migration) -> list[str]:
    """Descriptions of the operations in `migration` that cannot run backwards."""
    return [operation.describe() for operation in migration.operations if not operation.reversible]


def ensure_reversible(migrations) -> None:
    for migration in migrations:
        stuck = irreversible_operations(migration)
        if stuck:
            raise CommandError(
                f"{migration.app_label}.{migration.name} is irreversible ({'; '.join(stuck)}): "
                "nothing was rolled back. Write a migration that undoes it instead."
            )
