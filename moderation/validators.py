"""Validation of Moderator.conf, the bot configuration, against the shape the service documents.

Errors name the offending key (`conf.actions[1].type`) so an operator can fix the JSON at once.
"""

from django.core.exceptions import ValidationError

ACTION_TYPES = ("reply", "kick", "timeout")
MIN_GUIDELINES_LENGTH = 10


def validate_moderator_conf(conf) -> None:
    errors = list(_conf_errors(conf))
    if errors:
        raise ValidationError([ValidationError(message, code="invalid_conf") for message in errors])


def _conf_errors(conf):
    if not isinstance(conf, dict):
        yield f"conf: must be a JSON object, not {_json_type(conf)}"
        return
    if not _is_int(conf.get("guild_id")):
        yield "conf.guild_id: required, an integer (the Discord guild id)"
    channel_ids = conf.get("channel_ids")
    if not isinstance(channel_ids, list):
        yield "conf.channel_ids: required, a list of integer channel ids"
    else:
        for index, channel_id in enumerate(channel_ids):
            if not _is_int(channel_id):
                yield f"conf.channel_ids[{index}]: must be an integer, not {_json_type(channel_id)}"
    summary = conf.get("guild_summary")
    if not isinstance(summary, str) or not summary.strip():
        yield "conf.guild_summary: required, a non-empty string"
    guidelines = conf.get("guidelines")
    if not isinstance(guidelines, str) or len(guidelines.strip()) < MIN_GUIDELINES_LENGTH:
        yield f"conf.guidelines: required, a string of at least {MIN_GUIDELINES_LENGTH} characters"
    if conf.get("instructions") is not None and not isinstance(conf["instructions"], str):
        yield "conf.instructions: must be a string when given"
    actions = conf.get("actions")
    if not isinstance(actions, list):
        yield "conf.actions: required, a list of actions"
        return
    for index, action in enumerate(actions):
        yield from _action_errors(f"conf.actions[{index}]", action)


def _action_errors(path, action):
    if not isinstance(action, dict):
        yield f"{path}: must be an object, not {_json_type(action)}"
        return
    action_type = action.get("type")
    if action_type not in ACTION_TYPES:
        yield f"{path}.type: must be one of {', '.join(ACTION_TYPES)}, not {action_type!r}"
    if not isinstance(action.get("requires_approval"), bool):
        yield f"{path}.requires_approval: required, true or false"
    params = action.get("default_params", {})
    if not isinstance(params, dict):
        yield f"{path}.default_params: must be an object"
    elif action_type == "timeout":
        duration = params.get("duration")
        if not _is_int(duration) or duration <= 0:
            yield f"{path}.default_params.duration: required for timeout, a positive integer (seconds)"


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(value) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


# Discord's limits: a member timeout lasts at most 28 days, a message holds at most 2,000 characters.
DISCORD_MAX_TIMEOUT_SECONDS = 28 * 24 * 60 * 60
DISCORD_MAX_MESSAGE_LENGTH = 2000


def validate_action_params(action_type: str, params) -> None:
    """Refuse params the platform would refuse, before a human approves carrying them out."""
    errors = list(_action_param_errors(action_type, params))
    if errors:
        raise ValidationError([ValidationError(message, code="invalid_action_params") for message in errors])


def _action_param_errors(action_type, params):
    if params is None:
        params = {}
    if not isinstance(params, dict):
        yield f"action_params: must be a JSON object, not {_json_type(params)}"
        return
    if action_type == "timeout":
        duration = params.get("duration")
        if not _is_int(duration) or not 0 < duration <= DISCORD_MAX_TIMEOUT_SECONDS:
            yield (
                f"action_params.duration: a timeout lasts 1 to {DISCORD_MAX_TIMEOUT_SECONDS:,} seconds "
                f"(28 days, Discord's limit), not {duration!r}"
            )
    elif action_type == "reply":
        content = params.get("content")
        if not isinstance(content, str) or not content.strip():
            yield "action_params.content: a reply needs a non-empty string"
        elif len(content) > DISCORD_MAX_MESSAGE_LENGTH:
            yield (
                f"action_params.content: a reply is at most {DISCORD_MAX_MESSAGE_LENGTH:,} characters "
                f"(Discord's limit), not {len(content):,}"
            )
