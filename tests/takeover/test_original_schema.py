"""Every column of the original service's schema (../shared/reference/original-schema.md) exists here,
with its type and nullability, so an existing database maps one to one."""

import pytest
from django.db import connection

# table -> column -> (information_schema data_type, character_maximum_length, nullable)
ORIGINAL = {
    "users": {
        "user_id": ("uuid", None, False),
        "username": ("character varying", None, False),
        "email": ("character varying", None, False),
        "password": ("character varying", None, False),
        "jwt": ("character varying", None, True),
        "discord_oauth_payload": ("character varying", None, True),
        "pricing_tier": ("character varying", None, False),
        "stripe_customer_id": ("character varying", None, True),
        "created_at": ("timestamp with time zone", None, False),
        "updated_at": ("timestamp with time zone", None, False),
        "verified_at": ("timestamp with time zone", None, True),
    },
    "moderators": {
        "moderator_id": ("uuid", None, False),
        "user_id": ("uuid", None, False),
        "name": ("character varying", None, False),
        "description": ("character varying", 200, True),
        "platform": ("character varying", None, False),
        "platform_server_id": ("character varying", None, False),
        "conf": ("jsonb", None, False),
        "status": ("character varying", None, False),
        "created_at": ("timestamp with time zone", None, False),
    },
    "evaluation_events": {
        "event_id": ("uuid", None, False),
        "moderator_id": ("uuid", None, False),
        "platform_user_id": ("character varying", None, False),
        "severity_score": ("double precision", None, False),
        "behaviour_score": ("double precision", None, False),
        "context": ("jsonb", None, False),
        "created_at": ("timestamp with time zone", None, False),
    },
    "action_events": {
        "action_id": ("uuid", None, False),
        "event_id": ("uuid", None, False),
        "moderator_id": ("uuid", None, False),
        "platform_user_id": ("character varying", None, True),
        "evaluation_id": ("uuid", None, False),
        "action_type": ("character varying", None, False),
        "action_params": ("jsonb", None, True),
        "context": ("jsonb", None, False),
        "status": ("character varying", None, False),
        "error_msg": ("character varying", None, True),
        "reason": ("character varying", None, True),
        "created_at": ("timestamp with time zone", None, False),
        "updated_at": ("timestamp with time zone", None, False),
        "executed_at": ("timestamp with time zone", None, True),
    },
}


@pytest.mark.django_db
@pytest.mark.parametrize("table", ORIGINAL)
def test_every_original_column_exists_with_its_type_and_nullability(table):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name, data_type, character_maximum_length, is_nullable = 'YES' "
            "FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = %s",
            [table],
        )
        live = {name: (data_type, length, nullable) for name, data_type, length, nullable in cursor.fetchall()}
    assert {column: live.get(column) for column in ORIGINAL[table]} == ORIGINAL[table]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("table", "column", "default"),
    [
        ("evaluation_events", "event_id", "uuidv7()"),
        ("action_events", "action_id", "uuidv7()"),
        ("evaluation_events", "behaviour_score", "0.0"),
        ("moderators", "status", "'offline'::character varying"),
    ],
)
def test_server_defaults_of_the_original_schema(table, column, default):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_default FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
            [table, column],
        )
        assert cursor.fetchone()[0] == default


@pytest.mark.django_db
def test_action_type_is_indexed_as_in_the_original():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'action_events'")
        definitions = [row[0] for row in cursor.fetchall()]
    assert any(definition.endswith("(action_type)") for definition in definitions)
