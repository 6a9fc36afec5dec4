"""An encrypted JSON document field on django-fernet-encrypted-fields' keys.

The library's own EncryptedJSONField encrypts leaf by leaf (keys stay readable, numbers and
booleans come back as strings) and returns the ciphertext unchanged when no key opens it. This
field encrypts the whole JSON document as one Fernet token and raises on a wrong key.

Decryption waits until the payload is read: a row loads (in a list, through a foreign key, for a
delete) without the key, so a row that no configured key opens is still listed, viewed and deleted.
"""

import json

from cryptography.fernet import Fernet, InvalidToken
from django.core.signals import setting_changed
from django.db import models
from django.db.models.query_utils import DeferredAttribute
from django.dispatch import receiver
from encrypted_fields.fields import EncryptedFieldMixin

KEY_SETTINGS = {"SECRET_KEY", "SECRET_KEY_FALLBACKS", "SALT_KEY"}


class DecryptionError(ValueError):
    """No configured key opens the stored value."""


class StoredPayload:
    """A payload as read from the database: its token, decrypted by `decrypted()`.

    A model instance never shows one: DecryptOnRead decrypts on the first read of the attribute and
    keeps the value. `values()` rows hold it as it is, for the caller to decrypt or pass on.
    """

    def __init__(self, field, token: str):
        self.field = field
        self.token = token

    def decrypted(self):
        return json.loads(self.field.decrypt(self.token))

    def __repr__(self):
        return "<encrypted payload>"


class DecryptOnRead(DeferredAttribute):
    # A data descriptor (it has __set__), so reads come here even when the instance holds the value.
    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value

    def __get__(self, instance, cls=None):
        value = super().__get__(instance, cls)
        if isinstance(value, StoredPayload):
            value = instance.__dict__[self.field.attname] = value.decrypted()
        return value


class EncryptedJSONField(EncryptedFieldMixin, models.CharField):
    """A dict (or any JSON value) in Python, one Fernet token in an unbounded varchar column.

    Keys: SECRET_KEY and SECRET_KEY_FALLBACKS combined with each salt in SALT_KEY; the first
    pair encrypts, every pair decrypts. `manage.py reencrypt_fields` rewrites stored tokens
    with the first pair after a rotation.
    """

    description = "Encrypted JSON document"
    descriptor_class = DecryptOnRead
    secret = True  # gova.secret_fields: never listed, filtered, searched or sorted in the admin

    def __init__(self, *args, **kwargs):
        kwargs["max_length"] = None  # a Fernet token grows with the payload
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("max_length", None)
        return name, path, args, kwargs

    def get_internal_type(self):
        return "CharField"

    def get_prep_value(self, value):
        if value is None:
            return None
        if isinstance(value, StoredPayload):
            return value.token  # unchanged since it was read: written back as stored, without the key
        return self.encrypt(json.dumps(value, separators=(",", ":")))

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return StoredPayload(self, value)

    def pre_save(self, model_instance, add):
        # What the instance holds, without reading it through the attribute: saving a row whose
        # payload was never read neither decrypts it nor needs the key.
        if self.attname in model_instance.__dict__:
            return model_instance.__dict__[self.attname]
        return super().pre_save(model_instance, add)  # deferred: loaded (and decrypted) to be written

    def to_python(self, value):
        # loaddata hands over the token that dumpdata wrote (see value_to_string).
        if isinstance(value, str):
            return json.loads(self.decrypt(value))
        return value

    def value_to_string(self, obj):
        # dumpdata writes the ciphertext, never the payload; a payload never read goes out as stored.
        return self.get_prep_value(self.pre_save(obj, add=False))

    def encrypt(self, plaintext: str) -> str:
        return self.f.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self.f.decrypt(token.encode()).decode()
        except InvalidToken:
            raise DecryptionError(
                f"{self.model.__name__}.{self.name} cannot be decrypted with the configured keys "
                "(DJANGO_SECRET_KEY, DJANGO_SECRET_KEY_FALLBACKS, FIELD_ENCRYPTION_SALT_KEYS): "
                "a key it was written with is missing"
            ) from None

    def is_current(self, token: str) -> bool:
        """Whether the current (first) key wrote this token: reencrypt_fields leaves such rows alone."""
        try:
            Fernet(self.keys[0]).decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """The same payload re-encrypted with the current (first) key."""
        return self.encrypt(self.decrypt(token))


def encrypted_fields():
    from django.apps import apps

    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedJSONField):
                yield field


@receiver(setting_changed)
def forget_derived_keys(setting, **kwargs):
    """The library caches derived keys per field; drop them when a key setting changes (tests, shells)."""
    if setting in KEY_SETTINGS:
        for field in encrypted_fields():
            field.__dict__.pop("keys", None)
            field.__dict__.pop("f", None)
