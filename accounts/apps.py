from django.apps import AppConfig
from django.db.backends.signals import connection_created


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from gova.redaction import install_on_connection

        # Constraint errors on users quote the row (password hash, jwt): redacted on every connection.
        connection_created.connect(install_on_connection, dispatch_uid="gova.redaction")
