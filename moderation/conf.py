"""Import path kept for moderation/migrations/0001_initial.py (migrations are never edited once applied).

The validator lives in moderation.validators.
"""

from moderation.validators import validate_moderator_conf

__all__ = ["validate_moderator_conf"]
