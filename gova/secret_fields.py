"""Which model fields hold secrets, declared on the field itself.

A secret field (`jwt`, `password`, every EncryptedJSONField) is never listed, filtered, searched,
sorted or looked up in the admin (gova.secret_admin enforces it for every ModelAdmin), and pages
that follow a relation to its model do not load it.
"""

from django.core.exceptions import FieldDoesNotExist
from django.db.models.constants import LOOKUP_SEP


def secret(field):
    """Mark a model field as secret: `jwt = secret(models.CharField(...))`. No migration: not part of the schema."""
    field.secret = True
    return field


def is_secret(field) -> bool:
    return getattr(field, "secret", False)


def secret_in_path(model, path: str):
    """The secret field that a lookup, ordering or search path reaches ("user__jwt__startswith",
    "-jwt", "=password"), or None. Unknown names end the walk: what follows is a transform or a lookup."""
    for part in path.lstrip("-=^@").split(LOOKUP_SEP):
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        if is_secret(field):
            return field
        if not field.is_relation or field.related_model is None:
            return None
        model = field.related_model
    return None


def secret_field_names(model) -> list[str]:
    return [field.name for field in model._meta.concrete_fields if is_secret(field)]
