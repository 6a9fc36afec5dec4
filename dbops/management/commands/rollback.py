from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from dbops.conventions import project_app_labels
from dbops.locking import migration_session
from dbops.migration_guard import ensure_no_unbacked_data_loss
from dbops.rollback_planning import ensure_reversible, rollback_plan


class Command(BaseCommand):
    help = (
        "Undo the most recently applied migration of this project's apps (Alembic's `downgrade -1`), in the order "
        "migrations were applied; whatever depends on it is undone first. Django's and libraries' apps only when "
        "named."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "app_label",
            nargs="*",
            help="Only these apps, e.g. `sessions` (default: this project's own apps, never Django's contrib apps).",
        )
        parser.add_argument("--steps", type=int, default=1, help="How many applied migrations to undo (default 1).")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print the plan and its SQL, and whatever the real run would refuse; change nothing.",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)
        parser.add_argument(
            "--allow-data-loss", action="store_true", help="Undo even what drops event data without a fresh backup."
        )

    def handle(self, *args, app_label, steps, dry_run, database, allow_data_loss, **options):
        connection = connections[database]
        with migration_session(connection, dry_run=dry_run):
            executor = MigrationExecutor(connection)
            own_apps = [app for app in project_app_labels() if app in executor.loader.migrated_apps]
            undo = rollback_plan(executor, steps, app_label or own_apps)
            ensure_reversible(undo)
            plan = [(migration, True) for migration in undo]
            self.stdout.write("Rollback plan:" if not dry_run else "Rollback plan (dry run, nothing changes):")
            for migration in undo:
                self.stdout.write(f"  undo {migration.app_label}.{migration.name}")
            if dry_run:
                for migration in undo:
                    self.stdout.write(f"-- SQL to undo {migration.app_label}.{migration.name}")
                    for statement in executor.loader.collect_sql([(migration, True)]):
                        self.stdout.write(statement)
                try:
                    ensure_no_unbacked_data_loss(connection, plan, allow=allow_data_loss)
                except CommandError as refusal:
                    # A dry run that exits 0 where the real run stops would be a promise it cannot keep.
                    raise CommandError(f"would be refused: {refusal}") from None
                return
            ensure_no_unbacked_data_loss(connection, plan, allow=allow_data_loss)
            executor.migrate(None, plan=plan)
            for migration in undo:
                self.stdout.write(self.style.SUCCESS(f"  undone {migration.app_label}.{migration.name}"))
