"""Every statement the old service issues in normal operation succeeds against this project's schema.

The old service keeps running beside the project (docs/switching-from-alembic.md), so each migration added here
must leave its writes valid. The statements are written from ../shared/reference/old-service-writes.md, not
taken from its code: its own keys (uuid4 for users and events, the column default for moderators), times set by
the application (events in whole seconds), every column named as SQLAlchemy's ORM names them, on a connection
of its own. Django then reads what it wrote: the rows, their admin pages, the review queue.
"""

import json
import uuid
from datetime import UTC, datetime, timedelta

import argon2
import psycopg
import pytest
from django.db import connection
from django.urls import reverse

from accounts.models import User
from moderation.models import ActionEvent, ActionStatus, EvaluationEvent, Moderator
from tests.factories import message_context, valid_conf
from tests.old_service import seal
from tests.takeover.legacy_service import discord_tokens

pytestmark = pytest.mark.django_db(transaction=True)

# argon2-cffi's PasswordHasher() with its defaults, as the old service hashes.
PASSWORD_HASH = argon2.PasswordHasher().hash("old service password")


@pytest.fixture
def old_service():
    """A connection of the old service's own: autocommit statements, parameters bound by the driver."""
    params = connection.get_connection_params()
    server = {key: params[key] for key in ("host", "port", "user", "password", "dbname")}
    with psycopg.connect(**server, autocommit=True) as conn:
        yield conn


def now_whole_seconds() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def sign_up(db, name: str) -> uuid.UUID:
    user_id, now = uuid.uuid4(), datetime.now(UTC)
    (returned,) = db.execute(
        "INSERT INTO users (user_id, username, email, password, jwt, discord_oauth_payload, pricing_tier, "
        "stripe_customer_id, created_at, updated_at, verified_at) "
        "VALUES (%s, %s, %s, %s, NULL, NULL, 'free', NULL, %s, %s, NULL) RETURNING user_id",
        [user_id, name, f"{name}@example.com", PASSWORD_HASH, now, now],
    ).fetchone()
    assert returned == user_id
    return user_id


def create_moderator(db, user_id: uuid.UUID) -> uuid.UUID:
    (moderator_id,) = db.execute(
        "INSERT INTO moderators (user_id, name, description, platform, platform_server_id, conf, status, "
        "created_at) VALUES (%s, 'guard', 'keeps the peace', 'discord', '123456789012345678', %s, 'offline', %s) "
        "RETURNING moderator_id",
        [user_id, json.dumps(valid_conf()), datetime.now(UTC)],
    ).fetchone()
    return moderator_id


def record_evaluation(db, moderator_id, author: str, severity: float, created_at: datetime) -> uuid.UUID:
    event_id = uuid.uuid4()
    db.execute(
        "INSERT INTO evaluation_events (event_id, moderator_id, platform_user_id, severity_score, "
        "behaviour_score, context, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [event_id, moderator_id, author, severity, round(severity, 2), json.dumps(message_context()), created_at],
    )
    return event_id


def record_action(db, moderator_id, evaluation_id, status: str, created_at: datetime) -> uuid.UUID:
    action_id = uuid.uuid4()
    executed_at = created_at if status == "completed" else None
    error_msg = "Missing Permissions" if status == "failed" else None
    db.execute(
        "INSERT INTO action_events (action_id, event_id, evaluation_id, moderator_id, platform_user_id, "
        "action_type, action_params, context, status, reason, error_msg, created_at, executed_at) "
        "VALUES (%s, %s, %s, %s, 'author-1', 'timeout', %s, %s, %s, 'spam', %s, %s, %s)",
        [
            action_id, uuid.uuid4(), evaluation_id, moderator_id, json.dumps({"duration": 600}),
            json.dumps(message_context()), status, error_msg, created_at, executed_at,
        ],
    )  # fmt: skip
    return action_id


def test_the_account_statements_succeed_and_django_reads_the_user(old_service):
    user_id = sign_up(old_service, "olduser")
    statements = [
        ("UPDATE users SET jwt = %s WHERE user_id = %s", ["header.payload.signature", user_id]),  # login
        ("UPDATE users SET jwt = NULL WHERE user_id = %s", [user_id]),  # logout
        ("UPDATE users SET username = %s WHERE user_id = %s", ["renamed", user_id]),
        ("UPDATE users SET email = %s WHERE user_id = %s", ["renamed@example.com", user_id]),
        ("UPDATE users SET password = %s, jwt = NULL WHERE user_id = %s", [PASSWORD_HASH, user_id]),
        ("UPDATE users SET stripe_customer_id = %s WHERE user_id = %s", ["cus_123", user_id]),
        ("UPDATE users SET pricing_tier = 'pro' WHERE user_id = %s", [user_id]),
        ("UPDATE users SET pricing_tier = 'free' WHERE user_id = %s", [user_id]),  # subscription ended
    ]
    for sql, params in statements:
        assert old_service.execute(sql, params).rowcount == 1, sql
    envelope = seal(discord_tokens(1), str(user_id))
    (stored,) = old_service.execute(  # Discord OAuth connect
        "UPDATE users SET discord_oauth_payload = %s WHERE user_id = %s RETURNING discord_oauth_payload",
        [envelope, user_id],
    ).fetchone()
    assert stored == envelope

    user = User.objects.get(pk=user_id)
    assert (user.username, user.email, user.pricing_tier, user.stripe_customer_id) == (
        "renamed", "renamed@example.com", "free", "cus_123",
    )  # fmt: skip
    assert (user.is_active, user.is_staff, user.is_superuser) == (True, False, False)  # the columns Django added
    assert (
        old_service.execute(  # Discord disconnect
            "UPDATE users SET discord_oauth_payload = NULL WHERE user_id = %s", [user_id]
        ).rowcount
        == 1
    )


def test_the_moderation_statements_succeed_and_django_reads_every_row(old_service, admin_client):
    moderator_id = create_moderator(old_service, sign_up(old_service, "owner"))
    assert Moderator.objects.get(pk=moderator_id).status == "offline"
    for status in ("online", "pending", "offline"):  # lifecycle
        assert (
            old_service.execute(
                "UPDATE moderators SET status = %s, conf = %s WHERE moderator_id = %s",
                [status, json.dumps(valid_conf(guild_summary="A quieter community")), moderator_id],
            ).rowcount
            == 1
        )

    a_month_ago = now_whole_seconds() - timedelta(days=30)
    evaluations = [
        record_evaluation(old_service, moderator_id, f"author-{n % 3}", n / 10, a_month_ago + timedelta(minutes=n))
        for n in range(10)
    ]
    actions = {
        status: record_action(old_service, moderator_id, evaluations[-1], status, a_month_ago + timedelta(hours=1))
        for status in ("completed", "awaiting_approval", "failed", "rejected")
    }
    awaiting = [
        record_action(old_service, moderator_id, evaluations[n], "awaiting_approval", now_whole_seconds())
        for n in range(3)
    ]
    # Approve (completed or failed, executed_at set) and reject, each only from awaiting_approval.
    decisions = [
        ("UPDATE action_events SET status = 'completed', executed_at = %(now)s, updated_at = %(now)s "
         "WHERE action_id = %(id)s AND status = 'awaiting_approval'", awaiting[0]),
        ("UPDATE action_events SET status = 'failed', error_msg = 'Missing Permissions', executed_at = %(now)s, "
         "updated_at = %(now)s WHERE action_id = %(id)s AND status = 'awaiting_approval'", awaiting[1]),
        ("UPDATE action_events SET status = 'rejected', updated_at = %(now)s "
         "WHERE action_id = %(id)s AND status = 'awaiting_approval'", awaiting[2]),
    ]  # fmt: skip
    for sql, action_id in decisions:
        assert old_service.execute(sql, {"now": datetime.now(UTC), "id": action_id}).rowcount == 1

    assert EvaluationEvent.objects.filter(moderator_id=moderator_id).count() == 10
    assert set(ActionEvent.objects.filter(pk__in=awaiting).values_list("status", flat=True)) == {
        ActionStatus.COMPLETED, ActionStatus.FAILED, ActionStatus.REJECTED,
    }  # fmt: skip
    assert ActionEvent.objects.get(pk=actions["awaiting_approval"]).status == ActionStatus.AWAITING_APPROVAL
    for name in ("evaluationevent", "actionevent", "reviewqueueitem", "moderator"):
        assert admin_client.get(reverse(f"admin:moderation_{name}_changelist")).status_code == 200, name
    for model, key in (("evaluationevent", evaluations[0]), ("actionevent", actions["completed"])):
        assert admin_client.get(reverse(f"admin:moderation_{model}_change", args=[key])).status_code == 200

    # Deleting the moderator takes its events with it (ON DELETE CASCADE).
    assert old_service.execute("DELETE FROM moderators WHERE moderator_id = %s", [moderator_id]).rowcount == 1
    assert not EvaluationEvent.objects.filter(moderator_id=moderator_id).exists()
    assert not ActionEvent.objects.filter(moderator_id=moderator_id).exists()


def test_a_moderator_whose_actions_were_reviewed_here_can_still_be_deleted_by_the_old_service(old_service):
    from moderation.services import action_event_reject

    moderator_id = create_moderator(old_service, sign_up(old_service, "owner2"))
    evaluation = record_evaluation(old_service, moderator_id, "author", 0.9, now_whole_seconds())
    action_id = record_action(old_service, moderator_id, evaluation, "awaiting_approval", now_whole_seconds())
    reviewer = User.objects.create_user(username="reviewer", email="reviewer@example.com", password=None)
    action_event_reject(action=ActionEvent.objects.get(pk=action_id), reviewer=reviewer, reason="not spam")

    # The review log outlives the action it records (append-only); the old service's delete is not refused.
    assert old_service.execute("DELETE FROM moderators WHERE moderator_id = %s", [moderator_id]).rowcount == 1
    assert not ActionEvent.objects.filter(pk=action_id).exists()


def test_a_role_of_its_own_with_insert_on_the_events_can_record_an_evaluation(old_service):
    """The old service may log in as a role of its own: fold_seq's default needs USAGE on its sequence, which
    migration 0029 grants every role that may insert evaluation events."""
    from importlib import import_module

    role = f"old_service_{uuid.uuid4().hex[:8]}"
    moderator_id = create_moderator(old_service, sign_up(old_service, "owner3"))
    old_service.execute(f"CREATE ROLE {role}")
    try:
        old_service.execute(f"GRANT SELECT, INSERT, UPDATE ON evaluation_events, evaluation_latest_scores TO {role}")
        old_service.execute(import_module("moderation.migrations.0029_evaluationevent_fold_seq").GRANT_TO_WRITERS)
        old_service.execute(f"SET ROLE {role}")
        event_id = record_evaluation(old_service, moderator_id, "author", 0.4, now_whole_seconds())
        old_service.execute("RESET ROLE")
        assert EvaluationEvent.objects.filter(pk=event_id, fold_seq__isnull=False).exists()
    finally:
        old_service.execute("RESET ROLE")
        old_service.execute(f"DROP OWNED BY {role}")
        old_service.execute(f"DROP ROLE {role}")
