from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

from dbops.rollback_planning import applied_in_order, unknown_applied_migrations


class Command(BaseCommand):
    help = (
        "Current head and pending migrations per app, and the history of applied migrations with their times "
        "(Alembic's `current` and `history`)."
    )

    def add_arguments(self, parser):
        parser.add_argument("app_label", nargs="*", help="Only these apps (default: all).")
        parser.add_argument("--history", type=int, default=20, metavar="N", help="Show the N latest applied (0: all).")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, app_label, history, database, **options):
        executor = MigrationExecutor(connections[database])
        graph = executor.loader.graph
        known_apps = {app for app, _ in graph.nodes}
        unknown = sorted(set(app_label) - known_apps)
        if unknown:
            raise CommandError(f"no migrations for app(s) {', '.join(unknown)}; known: {', '.join(sorted(known_apps))}")
        apps = app_label or sorted(known_apps)
        applied = [m for m in applied_in_order(executor.connection) if m.app in apps]
        plan = executor.migration_plan(graph.leaf_nodes())

        # Rows whose file is not in this checkout: an older image deployed after a newer one migrated.
        ahead = [key for key in unknown_applied_migrations(executor.loader) if key.split(".", 1)[0] in apps]
        if ahead:
            self.stdout.write(
                f"The database is ahead of the code: {', '.join(ahead)} applied but not in this checkout. "
                "Deploy the code that has them before migrating or rolling back."
            )
        self.stdout.write("Current heads:")
        width = max(len(app) for app in apps)
        applied_keys = {m.key for m in applied}
        for app in apps:
            # The head: an applied migration of the app none of whose children in the app is applied
            # (not the latest applied row: a step back and forth reorders those).
            heads = sorted(
                name
                for app_label, name in applied_keys
                if app_label == app
                and (app_label, name) in graph.node_map
                and not any(
                    child[0] == app and child in applied_keys for child in graph.node_map[(app_label, name)].children
                )
            )
            pending = [migration.name for migration, _ in plan if migration.app_label == app]
            unknown = [key.split(".", 1)[1] for key in ahead if key.split(".", 1)[0] == app]
            if unknown:
                state = f"database ahead of the code: {', '.join(unknown)} not in this checkout"
            elif pending:
                state = f"{len(pending)} pending: {', '.join(pending)}"
            else:
                state = "up to date"
            self.stdout.write(f"  {app:<{width}}  {', '.join(heads) or '(none applied)'}  [{state}]")

        shown = applied if history == 0 else applied[-history:]
        self.stdout.write(f"History ({len(shown)} of {len(applied)} applied, newest last):")
        for migration in shown:
            self.stdout.write(f"  {migration.applied:%Y-%m-%d %H:%M:%S %Z}  {migration.app}.{migration.name}")
