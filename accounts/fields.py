"""An encrypted JSON document field on django-fernet-encrypted-fields' keys.

The library's own EncryptedJSONField encrypts leaf by leaf (keys stay readable, numbers and
booleans come back as strings) and returns the ciphertext unchanged when no key opens it. This
field encrypts the whole JSON document as one Fernet token and raises on a wrong key.

Decryption waits until the payload is read: a row loads (in a list, through a foreign key, for a
delete) without the key, so a row that no configured key opens is still listed, viewed and deleted.

The old (Alembic) service's formats are read too (accounts.legacy_formats): its AES-GCM envelope, opened with
GOVA_LEGACY_ENCRYPTION_KEY and the row's user id as associated data, and the plain JSON its refresh path
stored. With GOVA_LEGACY_FORMATS=true payloads are written as that envelope, so the old service reads them.
"""

import json

from cryptography.fernet import Fernet, InvalidToken
from django.core.signals import setting_changed
from django.db import models
from django.db.models.query_utils import DeferredAttribute
from django.dispatch import receiver
from encrypted_fields.fields import EncryptedFieldMixin

from accounts import legacy_formats

KEY_SETTINGS = {"SECRET_KEY", "SECRET_KEY_FALLBACKS", "SALT_KEY"}


class DecryptionError(ValueError):
    """No configured key opens the stored value."""


class StoredPayload:
    """A payload as read from (or about to be written to) the database: its token, decrypted by `decrypted()`.

    A model instance never shows one: DecryptOnRead decrypts on the first read of the attribute and
    keeps the value. `values()` rows hold it as it is, for the caller to decrypt (with the row's user id,
    which the old service's envelope needs) or pass on.
    """

    def __init__(self, field, token: str):
        self.field = field
        self.token = token

    def decrypted(self, owner=None):
        return json.loads(self.field.decrypt(self.token, owner=owner))

    def __repr__(self):
        return "<encrypted payload>"


class DecryptOnRead(DeferredAttribute):
    # A data descriptor (it has __set__), so reads come here even when the instance holds the value.
    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value

    def __get__(self, instance, cls=None):
        value = super().__get__(instance, cls)
        if isinstance(value, StoredPayload):
            value = instance.__dict__[self.field.attname] = value.decrypted(owner=instance.pk)
        return value


class EncryptedJSONField(EncryptedFieldMixin, models.CharField):
    """A dict (or any JSON value) in Python, one Fernet token (or the old service's envelope, see the module
    docstring) in an unbounded varchar column.

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
            return value.token  # unchanged since it was read (or sealed by pre_save): written as it is
        if legacy_formats.writes_legacy_formats():
            # No row here, and the envelope's associated data is the row's user id.
            raise ValueError(
                f"{self.model.__name__}.{self.name}: with {legacy_formats.FORMATS_VARIABLE}=true a payload is written "
                "by saving its user (save(), create(), bulk_create()), which seals it for that user id; "
                "QuerySet.update() and bulk_update() cannot"
            )
        return self.encrypt(json.dumps(value, separators=(",", ":")))

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return StoredPayload(self, value)

    def pre_save(self, model_instance, add):
        # What the instance holds, without reading it through the attribute: saving a row whose
        # payload was never read neither decrypts it nor needs the key.
        if self.attname in model_instance.__dict__:
            value = model_instance.__dict__[self.attname]
        else:
            value = super().pre_save(model_instance, add)  # deferred: loaded (and decrypted) to be written
        if value is None or isinstance(value, StoredPayload) or not legacy_formats.writes_legacy_formats():
            return value
        # The old service's envelope, bound to this row: its user id is the associated data.
        return StoredPayload(self, self.seal(value, owner=model_instance.pk))

    def to_python(self, value):
        # loaddata hands over the token that dumpdata wrote (see value_to_string). An envelope stays as it is,
        # opened when read: only the row knows the user id it is bound to.
        if isinstance(value, str):
            if legacy_formats.envelope(value) is not None:
                return StoredPayload(self, value)
            return json.loads(self.decrypt(value))
        return value

    def value_to_string(self, obj):
        # dumpdata writes the ciphertext, never the payload; a payload never read goes out as stored.
        return self.get_prep_value(self.pre_save(obj, add=False))

    def encrypt(self, plaintext: str) -> str:
        return self.f.encrypt(plaintext.encode()).decode()

    def seal(self, document, *, owner) -> str:
        """The old service's AES-GCM envelope of `document`, bound to the user id `owner`."""
        return legacy_formats.payload_seal(document, user_id=str(owner), key=legacy_formats.legacy_key())

    def stored_format(self, token: str) -> str:
        """The format of a stored value: "envelope" (the old service's AES-GCM), "plaintext" (its unencrypted
        JSON) or "fernet" (this field's)."""
        if legacy_formats.envelope(token) is not None:
            return "envelope"
        if legacy_formats.plaintext_document(token) is not None:
            return "plaintext"
        return "fernet"

    def decrypt(self, token: str, *, owner=None) -> str:
        """The JSON text of a stored payload in any format; `owner` (the row's user id) opens an envelope."""
        kind = self.stored_format(token)
        if kind == "plaintext":
            return token
        if kind == "envelope":
            return self._open_envelope(token, owner)
        try:
            return self.f.decrypt(token.encode()).decode()
        except InvalidToken:
            raise DecryptionError(
                f"{self.model.__name__}.{self.name} cannot be decrypted with the configured keys "
                "(DJANGO_SECRET_KEY, DJANGO_SECRET_KEY_FALLBACKS, FIELD_ENCRYPTION_SALT_KEYS): "
                "a key it was written with is missing"
            ) from None

    def _open_envelope(self, token: str, owner) -> str:
        label = f"{self.model.__name__}.{self.name}"
        if owner is None:
            raise DecryptionError(f"{label} is the old service's envelope: it opens only with its row's user id")
        try:
            return legacy_formats.envelope_open(
                legacy_formats.envelope(token), user_id=str(owner), key=legacy_formats.legacy_key()
            )
        except legacy_formats.UnreadablePayload as exc:
            raise DecryptionError(f"{label} of user {owner} cannot be decrypted: {exc}") from None

    def is_current(self, token: str) -> bool:
        """Whether the current (first) key wrote this token: reencrypt_fields leaves such rows alone."""
        try:
            Fernet(self.keys[0]).decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """The same payload re-encrypted with the current (first) key (a Fernet token; reencrypt_fields leaves
        the old service's formats to convert_legacy_formats)."""
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
