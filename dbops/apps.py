from django.apps import AppConfig
from django.db.models.signals import pre_migrate


class DbopsConfig(AppConfig):
    name = "dbops"
    verbose_name = "Database operations"

    def ready(self):
        from dbops.checks import refuse_migrate_without_pgvector

        # sender=self: sent once per migrate, before the first migration runs.
        pre_migrate.connect(refuse_migrate_without_pgvector, sender=self, dispatch_uid="dbops_require_pgvector")
