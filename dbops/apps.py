from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import pre_migrate


class DbopsConfig(AppConfig):
    name = "dbops"
    verbose_name = "Database operations"

    def ready(self):
        from dbops.conventions import check_migration_conventions
        from dbops.preconditions import refuse_unsafe_migrate

        checks.register(check_migration_conventions, "migrations")

        # sender=self: sent once per migrate, before the first migration runs.
        pre_migrate.connect(refuse_unsafe_migrate, sender=self, dispatch_uid="dbops_refuse_unsafe_migrate")
