"""A database as the old service's five Alembic revisions left it, filled as the old service filled it.

The DDL is replayed revision by revision, written from ../shared/reference/original-schema.md the way
SQLAlchemy and Alembic emit it (unnamed constraints get PostgreSQL's default names, `index=True` gives
ix_<table>_<column>, server defaults only where the models had server_default). It is deliberately not
takeover.legacy_schema.LEGACY_DDL: the command's idea of the legacy schema is under test.
"""

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import argon2

from tests.old_service import OTHER_KEY, seal

# Before PostgreSQL 18 the old service's migration template made its own uuidv7().
LEGACY_UUIDV7 = """
CREATE FUNCTION uuidv7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
        PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
        FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
$$;
"""

REVISIONS = [
    # 1f0c2a7d9b11 initial
    """
    CREATE EXTENSION IF NOT EXISTS vector;
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
        pricing_tier INTEGER NOT NULL,
        stripe_customer_id VARCHAR,
        created_at TIMESTAMP WITH TIME ZONE NOT NULL,
        updated_at TIMESTAMP WITH TIME ZONE NOT NULL,
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
        FOREIGN KEY(user_id) REFERENCES users (user_id) ON DELETE CASCADE
    );
    CREATE TABLE evaluation_events (
        event_id UUID DEFAULT uuidv7() NOT NULL,
        moderator_id UUID NOT NULL,
        platform_user_id VARCHAR NOT NULL,
        severity_score FLOAT NOT NULL,
        behaviour_score FLOAT DEFAULT 0.00 NOT NULL,
        context JSONB NOT NULL,
        embedding VECTOR(1024),
        created_at TIMESTAMP WITH TIME ZONE NOT NULL,
        PRIMARY KEY (event_id),
        FOREIGN KEY(moderator_id) REFERENCES moderators (moderator_id) ON DELETE CASCADE
    );
    INSERT INTO alembic_version (version_num) VALUES ('1f0c2a7d9b11');
    """,
    # 4b7e21c0d5a3 action events
    """
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
        FOREIGN KEY(moderator_id) REFERENCES moderators (moderator_id) ON DELETE CASCADE,
        FOREIGN KEY(evaluation_id) REFERENCES evaluation_events (event_id)
    );
    CREATE INDEX ix_action_events_action_type ON action_events (action_type);
    UPDATE alembic_version SET version_num='4b7e21c0d5a3' WHERE alembic_version.version_num = '1f0c2a7d9b11';
    """,
    # 18b225b423ce pricing tier as text
    """
    ALTER TABLE users ALTER COLUMN pricing_tier TYPE VARCHAR
        USING CASE pricing_tier WHEN 1 THEN 'pro' ELSE 'free' END;
    UPDATE alembic_version SET version_num='18b225b423ce' WHERE alembic_version.version_num = '4b7e21c0d5a3';
    """,
    # 9a3d5e6f7b80 email verification
    """
    ALTER TABLE users ADD COLUMN verified_at TIMESTAMP WITH TIME ZONE;
    UPDATE alembic_version SET version_num='9a3d5e6f7b80' WHERE alembic_version.version_num = '18b225b423ce';
    """,
    # 6cd8e388a6c5 drop embedding
    """
    ALTER TABLE evaluation_events DROP COLUMN embedding;
    UPDATE alembic_version SET version_num='6cd8e388a6c5' WHERE alembic_version.version_num = '9a3d5e6f7b80';
    """,
]


def create_legacy_schema(db) -> None:
    """`db`: a psycopg connection in autocommit to an empty database."""
    if db.execute("SELECT to_regprocedure('uuidv7()') IS NULL").fetchone()[0]:
        db.execute(LEGACY_UUIDV7)
    for revision in REVISIONS:
        db.execute(revision)


@dataclass
class LegacyUser:
    username: str
    email: str
    password: str
    payload: dict | None
    payload_form: str  # "sealed", "plaintext", "other key" or "none"
    user_id: str = field(default_factory=lambda: str(uuid.uuid4()))


def discord_tokens(n: int) -> dict:
    return {
        "access_token": f"access-{n}-{uuid.uuid4().hex}",
        "refresh_token": f"refresh-{n}-{uuid.uuid4().hex}",
        "expires_in": 604800,
        "scope": "identify guilds",
        "token_type": "Bearer",
    }


USERS = [
    LegacyUser("alice", "alice@example.com", "correct horse battery", discord_tokens(1), "sealed"),
    LegacyUser("bob", "bob@example.com", "tr0ub4dor&3 staple", discord_tokens(2), "plaintext"),
    LegacyUser("carol", "carol@example.com", "hunter2 but longer", None, "none"),
    LegacyUser("dave", "dave@example.com", "another long password", discord_tokens(4), "other key"),
]


def fill(db, *, evaluations: int = 30) -> list[LegacyUser]:
    """Rows as the old service wrote them: argon2-cffi defaults, sealed and plain payloads, events."""
    hasher = argon2.PasswordHasher()
    now = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    for n, user in enumerate(USERS):
        stored = {
            "sealed": lambda u: seal(u.payload, u.user_id),
            "plaintext": lambda u: json.dumps(u.payload),
            "other key": lambda u: seal(u.payload, u.user_id, OTHER_KEY),
            "none": lambda u: None,
        }[user.payload_form](user)
        db.execute(
            "INSERT INTO users (user_id, username, email, password, jwt, discord_oauth_payload, pricing_tier, "
            "stripe_customer_id, created_at, updated_at, verified_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                user.user_id,
                user.username,
                user.email,
                hasher.hash(user.password),
                f"eyJhbGciOiJIUzI1NiJ9.{n}.sig",
                stored,
                "pro" if n % 2 else "free",
                f"cus_{n:04d}" if n < 2 else None,
                now - timedelta(days=100 - n),
                now - timedelta(days=10 - n),
                now - timedelta(days=99 - n) if n != 2 else None,
            ],
        )
    conf = {
        "guild_id": 111,
        "channel_ids": [1, 2],
        "guild_summary": "A guild about gardening",
        "guidelines": "Be kind to each other, no spam.",
        "actions": [{"type": "timeout", "requires_approval": True, "default_params": {"duration": 60}}],
    }
    moderators = []
    for n, owner in enumerate(USERS[:2]):
        moderator_id = str(uuid.uuid4())
        moderators.append(moderator_id)
        db.execute(
            "INSERT INTO moderators (moderator_id, user_id, name, description, platform, platform_server_id, conf, "
            "status, created_at) VALUES (%s, %s, %s, %s, 'discord', %s, %s, %s, %s)",
            [
                moderator_id,
                owner.user_id,
                f"mod {n}",
                None if n else "garden bot",
                str(900 + n),
                json.dumps(conf),
                "online" if n else "offline",
                now - timedelta(days=50),
            ],
        )
    for n in range(evaluations):
        context = {
            "message_id": str(n),
            "platform": "discord",
            "guild_id": "111",
            "channel_id": "1",
            "channel_name": "general",
            "user_id": f"u{n % 5}",
            "username": f"user{n % 5}",
            "content": f"message {n}",
            "roles": ["member"],
            "reply_to": None,
        }
        [(event_id,)] = db.execute(
            "INSERT INTO evaluation_events (moderator_id, platform_user_id, severity_score, behaviour_score, context, "
            "created_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING event_id",
            [
                moderators[n % 2],
                f"u{n % 5}",
                round((n % 10) / 10, 2),
                0.25,
                json.dumps(context),
                now - timedelta(hours=n),
            ],
        ).fetchall()
        if n % 3 == 0:
            db.execute(
                "INSERT INTO action_events (event_id, moderator_id, platform_user_id, evaluation_id, action_type, "
                "action_params, context, status, error_msg, reason, created_at, updated_at, executed_at) "
                "VALUES (%s, %s, %s, %s, 'timeout', %s, %s, %s, NULL, 'spam', %s, %s, %s)",
                [
                    uuid.uuid4(),
                    moderators[n % 2],
                    f"u{n % 5}",
                    event_id,
                    json.dumps({"duration": 60, "user_id": f"u{n % 5}", "reason": "spam"}),
                    json.dumps(context),
                    "completed" if n % 2 else "awaiting_approval",
                    now - timedelta(hours=n),
                    now - timedelta(hours=n),
                    now - timedelta(hours=n) if n % 2 else None,
                ],
            )
    return USERS
