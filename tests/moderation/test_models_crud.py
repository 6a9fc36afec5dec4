"""Each model created, read, updated and deleted through the ORM on the real server."""

import pytest
from django.utils import timezone

from accounts.models import PricingTier, User
from moderation.models import ActionEvent, ActionStatus, EvaluationEvent, Moderator, ModeratorStatus
from tests.factories import ActionEventFactory, EvaluationEventFactory, ModeratorFactory, UserFactory


@pytest.mark.django_db
def test_user_crud_with_argon2_password():
    user = User.objects.create_user(username="ana", email="ana@example.com", password="s3cret-pass-phrase")
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password("s3cret-pass-phrase")
    assert user.pricing_tier == PricingTier.FREE and user.created_at and user.updated_at
    first_update = User.objects.get(pk=user.pk).updated_at
    user.pricing_tier = PricingTier.PRO
    user.save()
    reloaded = User.objects.get(pk=user.pk)
    assert reloaded.pricing_tier == PricingTier.PRO and reloaded.updated_at > first_update
    reloaded.delete()
    assert not User.objects.filter(pk=user.pk).exists()


@pytest.mark.django_db
def test_moderator_crud():
    moderator = ModeratorFactory(description="watches #general")
    assert Moderator.objects.get(pk=moderator.pk).status == ModeratorStatus.OFFLINE
    Moderator.objects.filter(pk=moderator.pk).update(status=ModeratorStatus.ONLINE)
    assert Moderator.objects.get(pk=moderator.pk).status == ModeratorStatus.ONLINE
    moderator.delete()
    assert not Moderator.objects.filter(pk=moderator.pk).exists()


@pytest.mark.django_db
def test_evaluation_event_crud():
    event = EvaluationEventFactory(severity_score=0.42, behaviour_score=0.1)
    loaded = EvaluationEvent.objects.get(pk=event.pk)
    assert (loaded.severity_score, loaded.behaviour_score) == (0.42, 0.1)
    assert loaded.context["content"] == "hello there"
    loaded.behaviour_score = 0.9
    loaded.save(update_fields=["behaviour_score"])
    assert EvaluationEvent.objects.get(pk=event.pk).behaviour_score == 0.9
    loaded.delete()
    assert not EvaluationEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_action_event_crud():
    action = ActionEventFactory()
    loaded = ActionEvent.objects.select_related("evaluation").get(pk=action.pk)
    assert loaded.evaluation.pk == action.evaluation.pk and loaded.event_id == action.evaluation.event_id
    loaded.status, loaded.executed_at = ActionStatus.COMPLETED, timezone.now()
    loaded.save()
    assert ActionEvent.objects.get(pk=action.pk).status == ActionStatus.COMPLETED
    loaded.delete()
    assert not ActionEvent.objects.filter(pk=action.pk).exists()


@pytest.mark.django_db
def test_timestamps_are_timezone_aware():
    event = EvaluationEventFactory()
    assert timezone.is_aware(EvaluationEvent.objects.get(pk=event.pk).created_at)
    assert timezone.is_aware(UserFactory().created_at)


@pytest.mark.django_db
def test_read_paths_use_their_querysets():
    moderator = ModeratorFactory()
    older, newer = EvaluationEventFactory(moderator=moderator), EvaluationEventFactory(moderator=moderator)
    EvaluationEventFactory()  # another moderator's
    assert list(EvaluationEvent.objects.for_moderator(moderator.pk)) == [newer, older]
    waiting = ActionEventFactory(evaluation=older)
    done = ActionEventFactory(evaluation=newer, status=ActionStatus.COMPLETED)
    assert list(ActionEvent.objects.for_moderator(moderator.pk)) == [done, waiting]
    assert list(ActionEvent.objects.for_moderator(moderator.pk, status=ActionStatus.AWAITING_APPROVAL)) == [waiting]
