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
    """Raise PgvectorMissing, with how to install it, unless the `vector` extension is installed in this
    database or can be created by this role."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.extname IS NOT NULL, r.rolsuper, coalesce(v.trusted, false), "
            "       has_database_privilege(current_database(), 'CREATE'), current_user, current_database() "
            "FROM pg_available_extensions a "
            "JOIN pg_roles r ON r.rolname = current_user "
            "LEFT JOIN pg_extension e ON e.extname = a.name "
            "LEFT JOIN pg_available_extension_versions v ON v.name = a.name AND v.version = a.default_version "
            "WHERE a.name = 'vector'"
        )
        row = cursor.fetchone()
        if row:
            installed, superuser, trusted, may_create, role, database = row
            if installed or superuser or (trusted and may_create):
                return
            # Without this, the first migration dies on `permission denied to create extension` in a long traceback.
            raise PgvectorMissing(
                f"the role {role} may not create the `vector` extension in database {database} (it is not a "
                f"superuser): an administrator must run `CREATE EXTENSION vector;` in {database}, then run migrate "
                "again. Nothing was applied."
            )
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
    from dbops.migration_guard import allow_data_loss, ensure_no_unbacked_data_loss

    connection = connections[using]
    ensure_pgvector_available(connection)
    if plan:
        ensure_no_unbacked_data_loss(connection, plan, allow=allow_data_loss.get())
