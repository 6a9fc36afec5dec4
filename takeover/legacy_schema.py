"""The old service's database at its Alembic head, and how to tell such a database apart.

LEGACY_DDL is the schema its five Alembic revisions leave (../shared/reference/original-schema.md):
SQLAlchemy's unnamed constraints get PostgreSQL's default names (users_pkey, moderators_user_id_fkey),
`index=True` gives ix_action_events_action_type, and only three columns have server defaults. It is
built on a scratch database to check a live one and to take an adopted one back (takeover.adoption).
"""

from django.core.management.base import CommandError
from django.db import connections

LEGACY_HEAD = "6cd8e388a6c5"
LEGACY_TABLES = ("users", "moderators", "evaluation_events", "action_events")
ADOPT_COMMAND = "python manage.py adopt_alembic_db"

LEGACY_DDL = """
CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
CREATE TABLE users (
    user_id UUID NOT NULL,
    username VARCHAR NOT NULL,
    email VARCHAR NOT NULL,
    password VARCHAR NOT NULL,
    jwt VARCHAR,
    discord_oauth_payload VARCHAR,
    pricing_tier VARCHAR NOT NULL,
    stripe_customer_id VARCHAR,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    verified_at TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (user_id),
    UNIQUE (username),
    UNIQUE (email),
    UNIQUE (stripe_customer_id)
);
CREATE TABLE moderators (
    moderator_id UUID NOT NULL,
    user_id UUID NOT NULL,
    name VARCHAR NOT NULL,
    description VARCHAR(200),
    platform VARCHAR NOT NULL,
    platform_server_id VARCHAR NOT NULL,
    conf JSONB NOT NULL,
    status VARCHAR NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (moderator_id),
    FOREIGN KEY (user_id) REFERENCES users (user_id) ON DELETE CASCADE
);
CREATE TABLE evaluation_events (
    event_id UUID DEFAULT uuidv7() NOT NULL,
    moderator_id UUID NOT NULL,
    platform_user_id VARCHAR NOT NULL,
    severity_score FLOAT NOT NULL,
    behaviour_score FLOAT DEFAULT 0.00 NOT NULL,
    context JSONB NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (event_id),
    FOREIGN KEY (moderator_id) REFERENCES moderators (moderator_id) ON DELETE CASCADE
);
CREATE TABLE action_events (
    action_id UUID DEFAULT uuidv7() NOT NULL,
    event_id UUID NOT NULL,
    moderator_id UUID NOT NULL,
    platform_user_id VARCHAR,
    evaluation_id UUID NOT NULL,
    action_type VARCHAR NOT NULL,
    action_params JSONB,
    context JSONB NOT NULL,
    status VARCHAR NOT NULL,
    error_msg VARCHAR,
    reason VARCHAR,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
    executed_at TIMESTAMP WITH TIME ZONE,
    PRIMARY KEY (action_id),
    FOREIGN KEY (moderator_id) REFERENCES moderators (moderator_id) ON DELETE CASCADE,
    FOREIGN KEY (evaluation_id) REFERENCES evaluation_events (event_id)
);
CREATE INDEX ix_action_events_action_type ON action_events (action_type);
"""

# The migrations whose schema the bridge builds in place: those on main when the old service was taken
# over, with their dependencies. Later migrations run as usual afterwards, so this list never grows.
BASELINE_TARGETS = [
    ("dbops", "0001_enable_vector_and_uuidv7"),
    ("accounts", "0002_users_updated_at_trigger"),
    ("moderation", "0003_action_events_updated_at_trigger"),
]


class LegacyDatabase(CommandError):
    pass


def _table_exists(cursor, name: str) -> bool:
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
    return cursor.fetchone()[0]


def database_state(connection) -> str:
    """ "legacy" (the old service's: alembic_version is there, even if a `migrate --fake-initial` recorded
    Django migrations over it), "adopted" (Django migrations manage the legacy tables) or "other" (empty,
    or a database this project made from zero)."""
    with connection.cursor() as cursor:
        if _table_exists(cursor, "alembic_version"):
            return "legacy"
        return "adopted" if _accounts_migrated(cursor) else "other"


def _accounts_migrated(cursor) -> bool:
    if not _table_exists(cursor, "django_migrations"):
        return False
    cursor.execute("SELECT 1 FROM django_migrations WHERE app = 'accounts' AND name = '0001_initial'")
    return cursor.fetchone() is not None


def ensure_not_legacy(connection) -> None:
    """Stop migrate before it touches a database of the old service: it would half-migrate it."""
    if database_state(connection) == "legacy":
        raise LegacyDatabase(
            "this database belongs to the old Alembic service (it has an alembic_version table); migrate "
            f"changed nothing. Take it over with `{ADOPT_COMMAND} --dry-run`, then "
            f"`{ADOPT_COMMAND}` (docs/switching-from-alembic.md)."
        )


def refuse_legacy_database(sender, using, **kwargs) -> None:
    """pre_migrate receiver: stop before the first migration runs, so nothing is half-applied."""
    ensure_not_legacy(connections[using])
