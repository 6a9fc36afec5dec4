"""seed_demo: realistic rows in every status, valid moderator configs, reproducible with --seed."""

from collections import defaultdict

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from moderation.models import ActionEvent, ActionReview, ActionStatus, EvaluationEvent, Moderator, VectorIndexPart
from moderation.validators import validate_moderator_conf
from moderation.vector_index import pending_rows
from tests.moderation.test_ingest import expected_scores


def snapshot():
    return list(
        EvaluationEvent.objects.order_by("created_at").values_list(
            "platform_user_id", "severity_score", "behaviour_score", "context__content"
        )
    ), list(ActionEvent.objects.order_by("created_at").values_list("action_type", "status", "action_params"))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)  # the command ends with VACUUM ANALYZE, which needs autocommit
def test_seed_demo_fills_every_status_and_repeats_itself_with_the_same_seed(capsys):
    call_command("seed_demo", events=3000, seed=7)
    out = capsys.readouterr().out
    assert "3,000 evaluation events" in out
    assert EvaluationEvent.objects.count() == 3000
    assert set(ActionEvent.objects.values_list("status", flat=True)) == set(ActionStatus.values)
    assert ActionReview.objects.exists()
    for moderator in Moderator.objects.all():
        validate_moderator_conf(moderator.conf)
    assert EvaluationEvent.objects.exclude(embedding=None).exists()
    # Every seeded embedding is under a vector index part (built or rebuilt once, after the load), none in the
    # exactly-searched tail.
    parts = list(VectorIndexPart.objects.all())
    assert parts and pending_rows() == 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_indexes WHERE indexname = ANY(%s)", [[p.index_name for p in parts]])
        assert cursor.fetchone()[0] == len(parts)
    # Scored by the ingest path: every author's scores follow the definition.
    authors = defaultdict(list)
    rows = EvaluationEvent.objects.order_by("created_at", "event_id").values_list(
        "moderator_id", "platform_user_id", "severity_score", "behaviour_score"
    )
    for moderator_id, user, severity, score in rows:
        authors[moderator_id, user].append((severity, score))
    for rows in authors.values():
        assert [score for _, score in rows] == expected_scores([severity for severity, _ in rows])
    first = snapshot()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE action_reviews, action_events, evaluation_events, moderators CASCADE")
    call_command("seed_demo", events=3000, seed=7)
    assert snapshot() == first


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_legacy_events_are_the_oldest_keyed_as_the_old_service_keys_them():
    call_command("seed_demo", events=2000, legacy_events=1500, seed=3)
    events = list(EvaluationEvent.objects.order_by("created_at", "pk").values_list("pk", "created_at"))
    assert {key.version for key, _ in events[:1500]} == {4} and {key.version for key, _ in events[1500:]} == {7}
    assert {moment.microsecond for _, moment in events[:1500]} == {0}  # whole seconds
    legacy = ActionEvent.objects.filter(evaluation_id__in=[key for key, _ in events[:1500]])
    assert legacy.exists() and {action.pk.version for action in legacy} == {4}
    assert {action.pk.version for action in ActionEvent.objects.exclude(pk__in=legacy)} == {7}


@pytest.mark.django_db
def test_seed_demo_refuses_bad_arguments_with_one_line():
    with pytest.raises(CommandError, match="--events must be at least 1"):
        call_command("seed_demo", events=0)
    with pytest.raises(CommandError, match="--legacy-events must be between 0 and --events"):
        call_command("seed_demo", events=10, legacy_events=11)
