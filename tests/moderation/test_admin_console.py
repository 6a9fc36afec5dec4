"""The admin as the operators' console: the review queue, readable records, reviewer permissions, cheap pages."""

import importlib
import re
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.fields import EncryptedJSONField
from moderation.models import ActionEvent, ActionReview, ActionStatus, ActionType, EvaluationEvent
from tests.factories import (
    ActionEventFactory,
    EvaluationEventFactory,
    ModeratorFactory,
    UserFactory,
    message_context,
)

QUEUE = reverse("admin:moderation_reviewqueueitem_changelist")
SECRETS = {"jwt": "eyJhbGciOiJIUzI1NiJ9.secret-jwt", "access_token": "discord-access-token-secret"}


def awaiting(moderator, severity, minutes_ago, user="u-1", **context):
    evaluation = EvaluationEventFactory(
        moderator=moderator, severity_score=severity, platform_user_id=user,
        context=message_context(user_id=user, **context),
    )  # fmt: skip
    return ActionEventFactory(
        evaluation=evaluation, platform_user_id=user, context=evaluation.context,
        created_at=timezone.now() - timedelta(minutes=minutes_ago),
    )  # fmt: skip


@pytest.fixture
def reviewer(db):
    if not Group.objects.filter(name="reviewers").exists():
        # A transactional test's flush empties tables, data-migration rows included: make it again, the same way.
        importlib.import_module("moderation.migrations.0006_reviewers_group").create_reviewers_group(django_apps, None)
    user = UserFactory(username="rita", is_staff=True)
    user.groups.add(Group.objects.get(name="reviewers"))
    return user


def test_the_reviewers_group_reads_events_and_decides_actions_only(reviewer):
    permissions = set(Group.objects.get(name="reviewers").permissions.values_list("codename", flat=True))
    assert permissions == {
        "view_moderator", "view_evaluationevent", "view_actionevent", "view_actionreview", "decide_action",
    }  # fmt: skip


# -- the review queue -------------------------------------------------------------------------------


def test_the_queue_lists_awaiting_actions_most_severe_first_then_oldest(admin_client):
    moderator = ModeratorFactory()
    mild_old = awaiting(moderator, 0.4, 50)
    severe_new = awaiting(moderator, 0.9, 1)
    severe_old = awaiting(moderator, 0.9, 30)
    ActionEventFactory(evaluation=EvaluationEventFactory(moderator=moderator, severity_score=1.0), status="completed")
    response = admin_client.get(QUEUE)
    assert response.status_code == 200
    assert [row.pk for row in response.context["cl"].result_list] == [severe_old.pk, severe_new.pk, mild_old.pk]


def test_a_queue_row_shows_the_message_the_authors_score_and_earlier_actions(admin_client):
    moderator = ModeratorFactory()
    EvaluationEventFactory(moderator=moderator, platform_user_id="u-7", behaviour_score=0.12)
    ActionEventFactory(
        evaluation=EvaluationEventFactory(moderator=moderator, platform_user_id="u-7"), platform_user_id="u-7",
        action_type=ActionType.KICK, status="completed", created_at=timezone.now() - timedelta(days=3),
    )  # fmt: skip
    latest = EvaluationEventFactory(
        moderator=moderator, platform_user_id="u-7", behaviour_score=0.66,
        context=message_context(content="buy cheap gold here", channel_name="trading", username="goldseller"),
    )  # fmt: skip
    ActionEventFactory(evaluation=latest, platform_user_id="u-7", context=latest.context)
    html = admin_client.get(QUEUE).content.decode()
    assert "buy cheap gold here" in html and "#trading" in html and "goldseller" in html
    assert "behaviour 0.66" in html
    assert "kick 1" in html and "timeout 0" in html


def test_one_row_is_approved_and_another_rejected_each_with_its_reason(admin_client, admin_user):
    moderator = ModeratorFactory()
    first, second = awaiting(moderator, 0.9, 5), awaiting(moderator, 0.8, 5)
    response = admin_client.post(QUEUE, {"_decide": f"approve:{first.pk}", f"reason-{first.pk}": "clear spam"})
    assert response.status_code == 302
    response = admin_client.post(
        QUEUE, {"_decide": f"reject:{second.pk}", f"reason-{second.pk}": "joke between friends"}, follow=True
    )
    assert "1 action(s) decided: 1 rejected" in response.content.decode()
    assert ActionEvent.objects.get(pk=first.pk).status == ActionStatus.COMPLETED
    assert ActionEvent.objects.get(pk=second.pk).status == ActionStatus.REJECTED
    log = {(r.action_id, r.to_status, r.reason, r.reviewer_id) for r in ActionReview.objects.all()}
    assert log == {
        (first.pk, "completed", "clear spam", admin_user.pk),
        (second.pk, "rejected", "joke between friends", admin_user.pk),
    }
    # The action's page shows its review log.
    html = admin_client.get(reverse("admin:moderation_actionevent_change", args=[second.pk])).content.decode()
    assert "Review log (append-only)" in html and "joke between friends" in html


def test_a_decision_without_a_reason_changes_nothing(admin_client):
    action = awaiting(ModeratorFactory(), 0.9, 5)
    response = admin_client.post(QUEUE, {"_decide": f"approve:{action.pk}", f"reason-{action.pk}": " "}, follow=True)
    assert "Give a reason to approve or reject: nothing was done" in response.content.decode()
    assert ActionEvent.objects.get(pk=action.pk).status == ActionStatus.AWAITING_APPROVAL


def test_bulk_approval_decides_each_awaiting_one_once(admin_client):
    moderator = ModeratorFactory()
    actions = [awaiting(moderator, 0.9, n) for n in range(3)]
    ActionEvent.objects.filter(pk=actions[0].pk).update(status=ActionStatus.REJECTED)  # another reviewer was faster
    response = admin_client.post(
        QUEUE,
        {"action": "approve_selected", "_selected_action": [a.pk for a in actions], "reason": "spam wave"},
        follow=True,
    )
    assert "2 action(s) decided: 2 completed" in response.content.decode()
    assert ActionEvent.objects.get(pk=actions[0].pk).status == ActionStatus.REJECTED  # left as it was
    assert ActionReview.objects.filter(reason="spam wave").count() == 2
    response = admin_client.post(QUEUE, {"action": "reject_selected", "_selected_action": [actions[1].pk]}, follow=True)
    assert "Give a reason" in response.content.decode()


def test_params_beyond_discords_limits_are_refused_in_the_queue(admin_client):
    action = awaiting(ModeratorFactory(), 0.9, 5)
    ActionEvent.objects.filter(pk=action.pk).update(action_params={"duration": 30 * 86400})
    response = admin_client.post(QUEUE, {"_decide": f"approve:{action.pk}", f"reason-{action.pk}": "ok"}, follow=True)
    assert "a timeout lasts 1 to 2,419,200 seconds" in response.content.decode()
    assert ActionEvent.objects.get(pk=action.pk).status == ActionStatus.AWAITING_APPROVAL


def test_the_queue_costs_the_same_number_of_queries_for_3_or_30_rows(admin_client, django_assert_max_num_queries):
    moderator = ModeratorFactory()
    for n in range(3):
        awaiting(moderator, 0.5, n, user=f"u-{n}")
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(QUEUE).status_code == 200
    for n in range(27):
        awaiting(moderator, 0.5, n, user=f"v-{n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(admin_client.get(QUEUE).context["cl"].result_list) == 30


# -- reviewers -------------------------------------------------------------------------------------


def test_a_reviewer_decides_actions_and_reads_events(client, reviewer):
    action = awaiting(ModeratorFactory(), 0.9, 5)
    client.force_login(reviewer)
    for name in ("reviewqueueitem", "actionevent", "evaluationevent", "moderator"):
        assert client.get(reverse(f"admin:moderation_{name}_changelist")).status_code == 200, name
    evaluation_page = reverse("admin:moderation_evaluationevent_change", args=[action.evaluation_id])
    assert client.get(evaluation_page).status_code == 200
    client.post(QUEUE, {"_decide": f"reject:{action.pk}", f"reason-{action.pk}": "not spam"})
    assert ActionReview.objects.get(action=action).reviewer == reviewer


def test_a_reviewer_changes_nothing_else_and_sees_no_secrets(client, reviewer):
    owner = UserFactory(jwt=SECRETS["jwt"], discord_oauth_payload={"access_token": SECRETS["access_token"]})
    moderator = ModeratorFactory(user=owner, name="original name")
    evaluation = EvaluationEventFactory(moderator=moderator)
    client.force_login(reviewer)
    # Moderators: readable, not editable.
    url = reverse("admin:moderation_moderator_change", args=[moderator.pk])
    page = client.get(url).content.decode()
    assert 'name="name"' not in page  # read-only view, no form field
    client.post(url, {"name": "hijacked", "platform": "discord", "status": "online", "conf": "{}"})
    assert type(moderator).objects.get(pk=moderator.pk).name == "original name"
    assert client.get(reverse("admin:moderation_moderator_add")).status_code == 403
    assert client.post(reverse("admin:moderation_moderator_delete", args=[moderator.pk])).status_code == 403
    # Evaluations: readable, never changed.
    url = reverse("admin:moderation_evaluationevent_change", args=[evaluation.pk])
    assert client.post(url, {"severity_score": "0.99"}).status_code == 403
    assert EvaluationEvent.objects.get(pk=evaluation.pk).severity_score == evaluation.severity_score
    # Users (jwt, OAuth payload): not theirs to open at all.
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 403
    assert client.get(reverse("admin:accounts_user_change", args=[owner.pk])).status_code == 403
    for name in ("moderator", "evaluationevent", "actionevent", "reviewqueueitem"):
        html = client.get(reverse(f"admin:moderation_{name}_changelist")).content.decode()
        assert all(secret not in html for secret in SECRETS.values())


def test_staff_without_the_decide_permission_cannot_see_the_queue(client, db):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(QUEUE).status_code == 403


# -- records, readable -----------------------------------------------------------------------------


def test_the_user_list_shows_tier_verified_stripe_and_oauth_without_decrypting(admin_client, monkeypatch):
    UserFactory(username="paid", pricing_tier="pro", stripe_customer_id="cus_123", verified_at=timezone.now(),
                discord_oauth_payload={"access_token": SECRETS["access_token"]}, jwt=SECRETS["jwt"])  # fmt: skip

    def refuse(self, token):
        raise AssertionError("the user list decrypted an OAuth payload")

    monkeypatch.setattr(EncryptedJSONField, "decrypt", refuse)
    html = admin_client.get(reverse("admin:accounts_user_changelist"), {"q": "paid"}).content.decode()
    assert "cus_123" in html and "Pro" in html
    [row] = [row for row in html.split("<tr") if "cus_123" in row]
    assert row.count('alt="True"') == 3  # verified, OAuth connected, active (not staff)
    assert all(secret not in html for secret in SECRETS.values())


def test_the_evaluation_page_pulls_the_message_apart_and_lists_its_actions(admin_client):
    evaluation = EvaluationEventFactory(
        context=message_context(content="you are all idiots", channel_name="lfg", username="angry_kat")
    )
    action = ActionEventFactory(evaluation=evaluation, action_type=ActionType.TIMEOUT)
    html = admin_client.get(reverse("admin:moderation_evaluationevent_change", args=[evaluation.pk])).content.decode()
    assert "you are all idiots" in html and "lfg" in html and "angry_kat" in html
    assert reverse("admin:moderation_actionevent_change", args=[action.pk]) in html
    assert reverse("admin:moderation_moderator_change", args=[evaluation.moderator_id]) in html


def test_the_moderator_page_shows_counts_a_chart_severity_bands_and_a_leaderboard(
    admin_client, django_assert_max_num_queries
):
    moderator = ModeratorFactory()
    for n, score in enumerate([0.1, 0.5, 0.9]):
        EvaluationEventFactory(
            moderator=moderator, platform_user_id=f"u-{n}", severity_score=score, behaviour_score=score,
            context=message_context(username=f"author-{n}"),
        )  # fmt: skip
    ActionEventFactory(evaluation=EvaluationEvent.objects.filter(moderator=moderator).first())
    with django_assert_max_num_queries(20):
        response = admin_client.get(reverse("admin:moderation_moderator_change", args=[moderator.pk]))
    html = response.content.decode()
    assert "Evaluations: <a" in html and ">3</a>" in html and ">1</a>" in html
    assert html.count('<svg class="gova-chart"') == 2
    assert "3 evaluations" in html  # today's bar tooltip
    leaderboard = re.search(r'<table id="behaviour-leaderboard">.*?</table>', html, re.S).group(0)
    assert leaderboard.index("author-2") < leaderboard.index("author-1") < leaderboard.index("author-0")
    list_html = admin_client.get(reverse("admin:moderation_moderator_changelist")).content.decode()
    assert 'class="gova-badge"' in list_html


# -- search, filters, pagination -------------------------------------------------------------------


def test_search_by_platform_user_or_server_id_is_an_exact_indexed_match(admin_client):
    moderator = ModeratorFactory(platform_server_id="998877")
    EvaluationEventFactory(moderator=moderator, platform_user_id="111")
    EvaluationEventFactory(platform_user_id="111")
    EvaluationEventFactory(platform_user_id="222")
    url = reverse("admin:moderation_evaluationevent_changelist")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(url, {"q": "111"})
    assert len(response.context["cl"].result_list) == 2
    assert not any("UPPER(" in query["sql"] for query in queries.captured_queries)
    assert len(admin_client.get(url, {"q": "998877"}).context["cl"].result_list) == 1


@pytest.mark.parametrize(
    ("params", "expected"),
    [({"severity": "high"}, {0.9}), ({"severity": "low"}, {0.1}), ({"created": "7d"}, {0.1, 0.9})],
)
def test_severity_band_and_created_range_filters(admin_client, params, expected):
    EvaluationEventFactory(severity_score=0.9)
    EvaluationEventFactory(severity_score=0.1)
    EvaluationEventFactory(severity_score=0.5, created_at=timezone.now() - timedelta(days=20))
    response = admin_client.get(reverse("admin:moderation_evaluationevent_changelist"), params)
    assert {row.severity_score for row in response.context["cl"].result_list} == expected


def test_action_filters_by_status_type_and_severity_band(admin_client):
    ActionEventFactory(status="rejected", action_type="kick", evaluation=EvaluationEventFactory(severity_score=0.95))
    ActionEventFactory(status="rejected", action_type="kick", evaluation=EvaluationEventFactory(severity_score=0.2))
    ActionEventFactory(status="completed", action_type="kick")
    response = admin_client.get(
        reverse("admin:moderation_actionevent_changelist"),
        {"status__exact": "rejected", "action_type__exact": "kick", "severity": "high"},
    )
    assert [row.evaluation.severity_score for row in response.context["cl"].result_list] == [0.95]


@pytest.fixture
def many_events(db):
    """12,000 evaluation events (more than the count cap and MAX_PAGES pages), inserted in one statement, analyzed."""
    moderator = ModeratorFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO evaluation_events (moderator_id, platform_user_id, severity_score, context, created_at) "
            "SELECT %s, 'user-' || (g %% 50), 0.5, '{}'::jsonb, now() - g * interval '1 minute' "
            "FROM generate_series(1, 12000) g",
            [moderator.pk],
        )
        cursor.execute("ANALYZE evaluation_events")
    return moderator


def test_big_lists_show_an_estimate_and_never_count_the_whole_table(admin_client, many_events):
    url = reverse("admin:moderation_evaluationevent_changelist")
    with CaptureQueriesContext(connection) as queries:
        html = admin_client.get(url).content.decode()
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert all("LIMIT" in sql for sql in counts), counts  # capped counts only, never the whole table
    assert re.search(r"about 1[12],\d{3}\s+evaluation events", html)
    html = admin_client.get(url, {"q": "user-7"}).content.decode()
    assert re.search(r"\b240\s+evaluation events", html)  # a small filtered count is exact
    html = admin_client.get(url, {"created": "30d"}).content.decode()
    assert re.search(r"more than 1,000\s+evaluation events", html)


def test_page_numbers_stop_at_the_cap_and_older_links_go_deeper_by_time(admin_client, many_events):
    url = reverse("admin:moderation_evaluationevent_changelist")
    assert admin_client.get(url, {"p": "101"}).status_code == 302  # beyond MAX_PAGES: Django's "?e=1" redirect
    first = admin_client.get(url)
    rows = list(first.context["cl"].result_list)
    older = re.search(r'href="(\?older=[^"]+)" class="older"', first.content.decode()).group(1)
    second = admin_client.get(url + older.replace("&amp;", "&"))
    next_rows = list(second.context["cl"].result_list)
    assert next_rows[0].created_at < rows[-1].created_at
    assert len(next_rows) == len(rows) == first.context["cl"].list_per_page
    assert "‹ newest" in second.content.decode()


@pytest.mark.parametrize("name", ["evaluationevent", "actionevent", "reviewqueueitem", "moderator"])
def test_changelist_query_counts_do_not_grow_with_rows(admin_client, name, django_assert_max_num_queries):
    moderator = ModeratorFactory()
    for n in range(3):
        awaiting(moderator, 0.5, n, user=f"u-{n}")
    url = reverse(f"admin:moderation_{name}_changelist")
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    for n in range(20):
        awaiting(ModeratorFactory(), 0.5, n, user=f"v-{n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert admin_client.get(url).status_code == 200


def test_an_awaiting_action_is_decided_on_its_own_page_too(admin_client):
    action = awaiting(ModeratorFactory(), 0.9, 5)
    page = reverse("admin:moderation_actionevent_change", args=[action.pk])
    assert 'id="decide-form"' in admin_client.get(page).content.decode()
    response = admin_client.post(QUEUE, {"_decide": f"reject:{action.pk}", f"reason-{action.pk}": "ok", "_next": page})
    assert response.url == page
    html = admin_client.get(page).content.decode()
    assert 'id="decide-form"' not in html and "Rejected" in html
    # Only a same-site page to come back to.
    other = awaiting(ModeratorFactory(), 0.9, 5)
    response = admin_client.post(
        QUEUE, {"_decide": f"reject:{other.pk}", f"reason-{other.pk}": "ok", "_next": "https://evil.example/"}
    )
    assert response.url == QUEUE
