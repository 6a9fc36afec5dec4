"""Lists and read paths order and page by time, whatever kind of key a row has.

The old service inserts evaluation and action events with uuid4 keys (random bits) and explicit whole-second times
(../shared/reference/old-service-writes.md); this project makes uuidv7 keys. A taken-over database holds both.
"""

import html
import random
import re
import uuid
from datetime import timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from moderation.models import NEWEST_FIRST, ActionEvent, EvaluationEvent, LatestBehaviourScore
from moderation.paginators import OLDER_VAR, MalformedCursor, older_cursor, parse_older
from tests.factories import ActionEventFactory, EvaluationEventFactory, ModeratorFactory

EVALUATIONS = reverse("admin:moderation_evaluationevent_changelist")
ACTIONS = reverse("admin:moderation_actionevent_changelist")
QUEUE = reverse("admin:moderation_reviewqueueitem_changelist")
OLDER_LINK = re.compile(r'href="([^"]*)" class="older"')

EVALUATION_SQL = (
    "INSERT INTO evaluation_events (event_id, moderator_id, platform_user_id, severity_score, behaviour_score, "
    "context, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
ACTION_SQL = (
    "INSERT INTO action_events (action_id, event_id, evaluation_id, moderator_id, platform_user_id, action_type, "
    "action_params, context, status, reason, error_msg, created_at, executed_at) "
    "VALUES (%s, %s, %s, %s, %s, 'timeout', '{\"duration\": 600}', '{}', %s, 'spam', NULL, %s, %s)"
)


class OldService:
    """The old service's statements for an evaluation and its action: uuid4 keys, explicit whole-second times."""

    def __init__(self, seed: int = 7):
        self.rng = random.Random(seed)

    def key(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def evaluation(self, moderator, created_at, *, user="legacy-user", severity=0.5) -> uuid.UUID:
        key = self.key()
        with connection.cursor() as cursor:
            cursor.execute(EVALUATION_SQL, [key, moderator.pk, user, severity, severity, "{}", created_at])
        return key

    def action(self, moderator, evaluation_id, created_at, *, status="completed") -> uuid.UUID:
        key = self.key()
        executed_at = created_at if status == "completed" else None
        with connection.cursor() as cursor:
            cursor.execute(
                ACTION_SQL,
                [key, self.key(), evaluation_id, moderator.pk, "legacy-user", status, created_at, executed_at],
            )
        return key


def whole_seconds(moment):
    return moment.replace(microsecond=0)


@pytest.fixture
def history(db):
    """50 month-old evaluations and actions by the old service (uuid4 keys; ten seconds of five rows each, so a
    page ends inside a second), and 48 of today: half by this project (uuidv7 keys made in the reverse of time
    order), half by the old service still running beside it. Two moderators share them."""
    old_service = OldService()
    moderators = [ModeratorFactory(), ModeratorFactory()]
    now = whole_seconds(timezone.now())
    month_ago = now - timedelta(days=30)
    for n in range(50):
        moderator, created_at = moderators[n % 2], month_ago - timedelta(seconds=n // 5)
        old_service.action(moderator, old_service.evaluation(moderator, created_at), created_at)
    for n in range(48):
        moderator, created_at = moderators[n % 2], now - timedelta(minutes=n)
        if n % 4 < 2:
            evaluation = EvaluationEventFactory(moderator=moderator, created_at=created_at)
            ActionEventFactory(evaluation=evaluation, created_at=created_at, status="completed")
        else:
            old_service.action(moderator, old_service.evaluation(moderator, created_at), created_at)
    return moderators


def by_time(queryset) -> list:
    """Keys newest first by time, the key breaking ties, sorted here in Python."""
    rows = sorted(queryset.values_list("created_at", "pk"), reverse=True)
    return [pk for _, pk in rows]


def follow_older_links(client, url) -> list[list]:
    """Every page's keys, from the list's first page through its "older ›" links until there are none (the
    last page may be empty: a full page always offers "older")."""
    pages = []
    while url is not None:
        response = client.get(url)
        assert response.status_code == 200
        pages.append([row.pk for row in response.context["cl"].result_list])
        link = OLDER_LINK.search(response.content.decode())
        url = url.split("?")[0] + html.unescape(link.group(1)) if link else None
        assert len(pages) < 30, "the older links go round in circles"
    return pages


def test_the_newest_first_list_shows_todays_events_first_in_time_order(admin_client, history):
    first_page = list(admin_client.get(EVALUATIONS).context["cl"].result_list)
    today = timezone.now() - timedelta(days=1)
    assert [row.pk for row in first_page] == by_time(EvaluationEvent.objects.all())[:50]
    assert all(row.created_at > today for row in first_page[:48])
    # The history is one a list by key gets wrong: month-old uuid4 keys sort above keys made today.
    assert any(row.created_at < today for row in EvaluationEvent.objects.order_by("-pk")[:48])


@pytest.mark.parametrize(
    ("url", "model", "filtered"),
    [
        (EVALUATIONS, EvaluationEvent, False),
        (EVALUATIONS, EvaluationEvent, True),
        (ACTIONS, ActionEvent, False),
        (ACTIONS, ActionEvent, True),
    ],
    ids=["evaluations", "evaluations of one moderator", "actions", "actions of one moderator"],
)
def test_older_links_visit_every_row_once_in_time_order(admin_client, history, monkeypatch, url, model, filtered):
    # 7 rows a page: many page ends, several of them inside a second of five rows.
    monkeypatch.setattr(admin.site._registry[model], "list_per_page", 7)
    rows = model.objects.all()
    if filtered:
        url = f"{url}?moderator__moderator_id__exact={history[0].pk}"
        rows = rows.filter(moderator=history[0])
    pages = follow_older_links(admin_client, url)
    visited = [pk for page in pages for pk in page]
    assert visited == by_time(rows)  # each once, newest first by time, ties by key
    assert len(pages) > 7 and all(len(page) == 7 for page in pages[:-1])


def test_the_actions_list_shows_todays_actions_first(admin_client, history):
    first_page = list(admin_client.get(ACTIONS).context["cl"].result_list)
    today = timezone.now() - timedelta(days=1)
    assert [row.pk for row in first_page] == by_time(ActionEvent.objects.all())[:50]
    assert all(row.created_at > today for row in first_page[:48])


def test_a_page_in_the_middle_of_one_second_continues_with_the_rest_of_that_second(admin_client, history):
    first = admin_client.get(EVALUATIONS)
    last = list(first.context["cl"].result_list)[-1]
    same_second = EvaluationEvent.objects.filter(created_at=last.created_at)
    assert same_second.count() == 5
    second = admin_client.get(EVALUATIONS, {OLDER_VAR: older_cursor(last)})
    following = [row.pk for row in second.context["cl"].result_list]
    assert following[:3] == sorted(same_second.filter(pk__lt=last.pk).values_list("pk", flat=True), reverse=True)
    assert "‹ newest" in second.content.decode()


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        "2026-13-01T00:00:00.000000Z_0f9c3a52-6b1e-4c7a-9d1e-2b7f4a0c9e11",  # no 13th month
        "2026-06-01T18:04:05Z_0f9c3a52-6b1e-4c7a-9d1e-2b7f4a0c9e11",  # no microseconds
        "2026-06-01T18:04:05.000000+00:00_0f9c3a52-6b1e-4c7a-9d1e-2b7f4a0c9e11",  # not as a link writes it
        "2026-06-01T18:04:05.000000Z_0f9c3a52-6b1e-4c7a-9d1e",  # a cut key
        "2026-06-01T18:04:05.000000Z_0f9c3a52-6b1e-4c7a-9d1e-2b7f4a0c9e11' OR 1=1",
    ],
)
@pytest.mark.parametrize("url", [EVALUATIONS, ACTIONS])
def test_a_malformed_older_value_is_a_400_that_says_so(admin_client, url, value):
    response = admin_client.get(url, {OLDER_VAR: value, "q": "legacy-user"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "is not &lt;created_at&gt;_&lt;key&gt; as an “older” link writes it" in page
    assert f'href="{url}?q=legacy-user"' in page  # the newest page, the search kept


def test_older_values_round_trip_to_the_microsecond():
    row = EvaluationEvent(event_id=uuid.uuid4(), created_at=timezone.now().replace(microsecond=120))
    assert parse_older(older_cursor(row)) == (row.created_at, row.event_id)
    assert parse_older(None) is None
    with pytest.raises(MalformedCursor):
        parse_older(older_cursor(row).replace("Z_", "_"))


# -- the review queue and the read paths -----------------------------------------------------------


def test_the_queue_takes_the_oldest_first_within_a_severity_whatever_the_keys(admin_client, history):
    old_service = OldService(seed=11)
    moderator = history[0]
    now = whole_seconds(timezone.now())
    today = EvaluationEventFactory(moderator=moderator, severity_score=0.8)
    newest = ActionEventFactory(evaluation=today, created_at=now)  # uuidv7: sorts below the uuid4 keys
    earlier = []
    for minutes in (90, 60, 60):  # two in the same second: the key only breaks that tie
        evaluation = old_service.evaluation(moderator, now - timedelta(minutes=minutes), severity=0.8)
        earlier.append(
            old_service.action(moderator, evaluation, now - timedelta(minutes=minutes), status="awaiting_approval")
        )
    queue = [row.pk for row in admin_client.get(QUEUE).context["cl"].result_list]
    assert queue == [earlier[0], *sorted(earlier[1:]), newest.pk]
    assert list(ActionEvent.objects.awaiting_approval().values_list("pk", flat=True)) == queue


def test_read_paths_are_by_time_whatever_the_keys(history):
    moderator = history[0]
    for_moderator = EvaluationEvent.objects.for_moderator(moderator.pk).values_list("pk", flat=True)
    assert list(for_moderator) == by_time(EvaluationEvent.objects.filter(moderator=moderator))
    actions = ActionEvent.objects.for_moderator(moderator.pk).values_list("pk", flat=True)
    assert list(actions) == by_time(ActionEvent.objects.filter(moderator=moderator))
    # One author's history, newest first: its first row is the latest-scores row (newest by time, then key).
    history_keys = [row["event_id"] for row in EvaluationEvent.objects.behaviour_history(moderator.pk, "legacy-user")]
    assert history_keys == by_time(EvaluationEvent.objects.filter(moderator=moderator, platform_user_id="legacy-user"))
    latest = LatestBehaviourScore.objects.get(moderator=moderator, platform_user_id="legacy-user")
    assert latest.event_id == history_keys[0]


def test_the_moderators_list_is_newest_first_by_time(admin_client, db):
    now = timezone.now()
    # A key that sorts above every uuidv7 (a row some other writer keyed): its time still decides.
    older = ModeratorFactory(
        moderator_id=uuid.UUID("ffffffff-ffff-4fff-bfff-ffffffffffff"), created_at=now - timedelta(3)
    )
    newer = ModeratorFactory(created_at=now)
    rows = [
        row.pk for row in admin_client.get(reverse("admin:moderation_moderator_changelist")).context["cl"].result_list
    ]
    assert rows == [newer.pk, older.pk]


# -- plans: every list is read in index order ------------------------------------------------------


def admin_list_query(client, url, params) -> str:
    """The SQL of the list's page of rows (the statement that orders by created_at)."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url, params).status_code == 200
    (sql,) = [q["sql"] for q in queries.captured_queries if "ORDER BY" in q["sql"] and 'created_at" DESC' in q["sql"]]
    return sql


@pytest.mark.parametrize("url", [EVALUATIONS, ACTIONS])
@pytest.mark.parametrize("filtered", [False, True], ids=["all", "one moderator"])
@pytest.mark.parametrize("deep", [False, True], ids=["first page", "keyset page"])
def test_list_pages_read_an_index_in_order_without_sorting(admin_client, history, url, filtered, deep):
    model = EvaluationEvent if url == EVALUATIONS else ActionEvent
    params = {"moderator__moderator_id__exact": str(history[0].pk)} if filtered else {}
    if deep:
        params[OLDER_VAR] = older_cursor(model.objects.order_by(*NEWEST_FIRST)[60])
    sql = admin_list_query(admin_client, url, params)
    with connection.cursor() as cursor:
        # A sort or a sequential scan is priced out of reach: if one is still in the plan, no index gives the order.
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "Sort" not in plan and "Seq Scan" not in plan, plan
    index = ("evaluation" if model is EvaluationEvent else "action") + ("_mod" if filtered else "") + "_created_key_idx"
    assert f"Index Scan Backward using {index}" in plan, plan
