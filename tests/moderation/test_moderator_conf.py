import pytest
from django.core.exceptions import ValidationError

from moderation.models import Moderator
from moderation.services import moderator_create
from moderation.validators import validate_moderator_conf
from tests.factories import UserFactory, valid_conf


def messages(conf) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        validate_moderator_conf(conf)
    return caught.value.messages


def test_documented_shape_is_accepted():
    validate_moderator_conf(valid_conf())
    validate_moderator_conf(valid_conf(actions=[], instructions="Be terse."))


@pytest.mark.parametrize(
    ("conf", "named"),
    [
        ("not an object", "conf: must be a JSON object"),
        (valid_conf(guild_id="123"), "conf.guild_id"),
        (valid_conf(guild_id=True), "conf.guild_id"),
        (valid_conf(channel_ids=[1, "two"]), "conf.channel_ids[1]"),
        (valid_conf(channel_ids=None), "conf.channel_ids"),
        (valid_conf(guild_summary="  "), "conf.guild_summary"),
        (valid_conf(guidelines="short"), "conf.guidelines"),
        (valid_conf(instructions=5), "conf.instructions"),
        (valid_conf(actions={"type": "kick"}), "conf.actions"),
        (valid_conf(actions=[{"type": "ban", "requires_approval": True}]), "conf.actions[0].type"),
        (valid_conf(actions=[{"type": "kick"}]), "conf.actions[0].requires_approval"),
        (
            valid_conf(actions=[{"type": "timeout", "requires_approval": False}]),
            "conf.actions[0].default_params.duration",
        ),
        (
            valid_conf(
                actions=[
                    {"type": "reply", "requires_approval": False},
                    {"type": "timeout", "requires_approval": False, "default_params": {"duration": -5}},
                ]
            ),
            "conf.actions[1].default_params.duration",
        ),
    ],
)
def test_each_bad_key_is_named_in_the_error(conf, named):
    assert any(message.startswith(named) for message in messages(conf)), messages(conf)


def test_all_problems_are_reported_at_once():
    reported = messages({"guild_id": "x", "channel_ids": [], "guild_summary": "", "guidelines": "", "actions": []})
    assert len(reported) == 3


@pytest.mark.django_db
def test_full_clean_and_the_service_refuse_a_bad_conf_before_saving():
    with pytest.raises(ValidationError, match="conf.guidelines"):
        moderator_create(user=UserFactory(), name="bot", platform_server_id="g", conf=valid_conf(guidelines="hi"))
    assert not Moderator.objects.exists()
