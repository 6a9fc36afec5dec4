"""Preconditions checked before migrate touches the database."""

from django.core.management.base import CommandError
from django.db import connections

PGVECTOR_INSTALL_HINT = (
    "Install pgvector on the server (Debian/Ubuntu: apt install postgresql-{major}-pgvector; "
    "Docker: the pgvector/pgvector:pg{major} image; others: https://github.com/pgvector/pgvector#installation), "
    "then run migrate again. Nothing was applied."
)


class PgvectorMissing(CommandError):
    pass


def ensure_pgvector_available(connection) -> None:
    """Raise PgvectorMissing, with how to install it, unless the `vector` extension can be created."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        if cursor.fetchone():
            return
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    major = version.split(".")[0]
    raise PgvectorMissing(
        f"pgvector is missing: PostgreSQL {version} at {connection.settings_dict['HOST'] or 'localhost'} "
        f"has no `vector` extension. " + PGVECTOR_INSTALL_HINT.format(major=major)
    )


def refuse_unsafe_migrate(sender, using, plan=None, **kwargs) -> None:
    """pre_migrate receiver: stop before the first migration runs, so nothing is half-applied."""
    # Imported here: dbops.operations (loaded by every migration file) imports this module.
    from dbops.legacy_schema import ensure_not_legacy
    from dbops.migration_guard import allow_data_loss, ensure_no_unbacked_data_loss

    connection = connections[using]
    # First: on the old service's database even contenttypes and auth must not be applied.
    ensure_not_legacy(connection)
    ensure_pgvector_available(connection)
    if plan:
        ensure_no_unbacked_data_loss(connection, plan, allow=allow_data_loss.get())
