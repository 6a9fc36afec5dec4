from django.apps import AppConfig
from django.db.models.signals import pre_migrate


class TakeoverConfig(AppConfig):
    """Taking over a database of the old Alembic service, and handing it back (`adopt_alembic_db`).

    Depends on accounts, dbops and moderation; none of them depends on it, so the app can be removed once
    no database of the old service is left to take over.
    """

    name = "takeover"
    verbose_name = "Takeover of the old service's database"

    def ready(self):
        from takeover.legacy_schema import refuse_legacy_database

        # sender=self: sent once per migrate, before the first migration runs. Listed before dbops in
        # INSTALLED_APPS, so this runs before dbops' checks: on the old service's database even contenttypes
        # and auth must not be applied, and the operator is pointed at adopt_alembic_db, not at a data-loss risk.
        pre_migrate.connect(refuse_legacy_database, sender=self, dispatch_uid="takeover_refuse_legacy_database")
