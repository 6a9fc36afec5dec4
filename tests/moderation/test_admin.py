"""The admin is usable from day one: every model browsable, secrets never rendered, no N+1 queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from moderation.models import ActionStatus
from tests.factories import ActionEventFactory, EvaluationEventFactory, ModeratorFactory, UserFactory

SECRETS = {"jwt": "eyJhbGciOiJIUzI1NiJ9.secret-jwt", "access_token": "discord-access-token-secret"}


@pytest.fixture
def rows(db):
    user = UserFactory(jwt=SECRETS["jwt"], discord_oauth_payload={"access_token": SECRETS["access_token"]})
    moderator = ModeratorFactory(user=user)
    evaluations = [EvaluationEventFactory(moderator=moderator) for _ in range(5)]
    actions = [ActionEventFactory(evaluation=evaluation, status=ActionStatus.COMPLETED) for evaluation in evaluations]
    return {"user": user, "moderator": moderator, "evaluation": evaluations[0], "action": actions[0]}


CHANGELISTS = ["accounts_user", "moderation_moderator", "moderation_evaluationevent", "moderation_actionevent"]


@pytest.mark.parametrize("name", CHANGELISTS)
def test_changelists_render_without_secrets_in_a_bounded_number_of_queries(
    admin_client, rows, name, django_assert_max_num_queries
):
    with django_assert_max_num_queries(10):
        response = admin_client.get(reverse(f"admin:{name}_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert all(secret not in html for secret in SECRETS.values())


@pytest.mark.parametrize(("name", "key"), [
    ("accounts_user", "user"), ("moderation_moderator", "moderator"),
    ("moderation_evaluationevent", "evaluation"), ("moderation_actionevent", "action"),
])  # fmt: skip
def test_change_pages_render_without_secrets(admin_client, rows, name, key):
    response = admin_client.get(reverse(f"admin:{name}_change", args=[rows[key].pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert all(secret not in html for secret in SECRETS.values())


def test_changelist_search_and_filters_work(admin_client, rows):
    url = reverse("admin:moderation_actionevent_changelist")
    response = admin_client.get(url, {"q": rows["moderator"].platform_server_id, "status__exact": "completed"})
    assert response.status_code == 200 and response.context["cl"].result_count == 5
    response = admin_client.get(url, {"status__exact": "rejected"})
    assert response.context["cl"].result_count == 0


def test_event_logs_are_read_only(admin_client, rows):
    assert admin_client.get(reverse("admin:moderation_evaluationevent_add")).status_code == 403
    change_url = reverse("admin:moderation_actionevent_change", args=[rows["action"].pk])
    response = admin_client.post(change_url, {"status": "rejected"})
    assert response.status_code == 403


def test_moderator_conf_is_edited_as_indented_json_and_validated(admin_client, rows):
    url = reverse("admin:moderation_moderator_change", args=[rows["moderator"].pk])
    assert "\n  &quot;guild_id&quot;" in admin_client.get(url).content.decode()
    moderator = rows["moderator"]
    response = admin_client.post(url, {
        "user": moderator.user_id, "name": moderator.name, "platform": "discord",
        "platform_server_id": moderator.platform_server_id, "status": "offline",
        "conf": '{"guild_id": "nope", "channel_ids": [], "guild_summary": "x", '
                '"guidelines": "long enough rules", "actions": []}',
    })  # fmt: skip
    assert response.status_code == 200
    assert "conf.guild_id" in response.content.decode()


@pytest.mark.django_db
def test_request_user_is_loaded_without_the_oauth_payload(client):
    staff = UserFactory(is_staff=True, is_superuser=True, discord_oauth_payload={"access_token": "x"})
    client.force_login(staff)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("admin:index")).status_code == 200
    user_queries = [query["sql"] for query in queries.captured_queries if 'FROM "users"' in query["sql"]]
    assert user_queries and not any("discord_oauth_payload" in sql for sql in user_queries)
