from django.apps import AppConfig


class DevdbConfig(AppConfig):
    """The embedded PostgreSQL for development and tests: launcher, database backend, command, pytest plugin."""

    name = "devdb"
    verbose_name = "Embedded development database"
