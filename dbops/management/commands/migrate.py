"""Django's migrate, made safe for production: one at a time, fail-fast locks, no silent data loss.

Named `migrate` so that what operators and containers already run is what is protected. dbops
comes first in INSTALLED_APPS, so this command replaces django.core's.
"""

from django.core.management.commands import migrate
from django.db import connections
from django.db.migrations.loader import MigrationLoader

from dbops.locking import migration_session
from dbops.migration_guard import allow_data_loss
from dbops.rollback_planning import unknown_applied_migrations


class Command(migrate.Command):
    help = (
        migrate.Command.help
        + " Serialised by a PostgreSQL advisory lock; sets lock_timeout; refuses to drop event data without a backup."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--allow-data-loss",
            action="store_true",
            help="Apply migrations that drop or narrow event data even without a backup newer than them.",
        )

    def handle(self, *args, **options):
        connection = connections[options["database"]]
        dry_run = options["plan"] or options["check_unapplied"]
        # --fake only records migrations: no data can be lost.
        token = allow_data_loss.set(options["allow_data_loss"] or options["fake"])
        try:
            with migration_session(connection, dry_run=dry_run):
                self._warn_if_database_ahead(connection)
                return super().handle(*args, **options)
        finally:
            allow_data_loss.reset(token)

    def _warn_if_database_ahead(self, connection) -> None:
        # Not an error: during a rolling deploy an older container may start after a newer one migrated.
        unknown = unknown_applied_migrations(MigrationLoader(connection, ignore_no_migrations=True))
        if unknown:
            self.stderr.write(
                f"warning: the database is ahead of the code: {', '.join(unknown)} applied but not in this "
                "checkout. Nothing of them is undone; deploy the code that has them."
            )
