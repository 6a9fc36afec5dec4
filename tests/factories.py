from functools import lru_cache

import factory
from django.conf import settings
from django.contrib.auth.hashers import make_password

from accounts.models import User
from moderation.models import ActionEvent, ActionStatus, ActionType, EvaluationEvent, Moderator


def valid_conf(**overrides) -> dict:
    conf = {
        "guild_id": 123456789012345678,
        "channel_ids": [1, 2],
        "guild_summary": "A gaming community",
        "guidelines": "Be kind. No slurs, no spam.",
        "instructions": None,
        "actions": [
            {"type": "reply", "requires_approval": False},
            {"type": "timeout", "requires_approval": True, "default_params": {"duration": 600}},
        ],
    }
    conf.update(overrides)
    return conf


@lru_cache
def _hashed(raw: str, hashers: tuple) -> str:
    return make_password(raw)


def hashed_once(raw: str) -> str:
    """make_password, once per password and PASSWORD_HASHERS (a test may switch to a cheap hasher)."""
    return _hashed(raw, tuple(settings.PASSWORD_HASHERS))


def message_context(**overrides) -> dict:
    context = {
        "message_id": "m-1",
        "platform": "discord",
        "guild_id": "g-1",
        "channel_id": "c-1",
        "channel_name": "general",
        "user_id": "u-1",
        "username": "someone",
        "content": "hello there",
        "roles": ["member"],
        "reply_to": None,
    }
    context.update(overrides)
    return context


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    # Hashed once per password: an Argon2 hash at the old service's cost takes ~0.1 s, and a test may make dozens
    # of users (every moderator has one). Users sharing a password share its salt, which no test depends on.
    password = factory.django.Password("correct horse battery", transform=hashed_once)


class ModeratorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Moderator

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"moderator {n}")
    platform_server_id = factory.Sequence(lambda n: f"guild-{n}")
    conf = factory.LazyFunction(valid_conf)


class EvaluationEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EvaluationEvent

    moderator = factory.SubFactory(ModeratorFactory)
    platform_user_id = factory.Sequence(lambda n: f"discord-user-{n}")
    severity_score = 0.1
    context = factory.LazyFunction(message_context)


class ActionEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActionEvent

    evaluation = factory.SubFactory(EvaluationEventFactory)
    moderator = factory.SelfAttribute("evaluation.moderator")
    event_id = factory.SelfAttribute("evaluation.event_id")
    action_type = ActionType.TIMEOUT
    action_params = factory.LazyFunction(lambda: {"duration": 600, "user_id": "u-1", "reason": "spam"})
    context = factory.LazyFunction(message_context)
    status = ActionStatus.AWAITING_APPROVAL
