"""The old (Alembic) service's formats for passwords and OAuth payloads, read and written.

Passwords: the old service stores argon2-cffi's PHC string (`$argon2id$v=19$m=65536,t=3,p=4$salt$hash`).
Django's Argon2PasswordHasher stores the same string behind its algorithm name (`argon2$argon2id$...`), so
converting is adding or removing that prefix: no password is needed and nothing is re-hashed.

OAuth payloads: base64 of `{"version": "v1", "iv": b64 nonce, "ct": b64 ciphertext+tag, "aad": user id}`,
AES-GCM with the UTF-8 bytes of the old ENCRYPTION_KEY and the user id as associated data. Some rows hold
plain `json.dumps(...)` text: the old token refresh path stores it unencrypted.

`GOVA_LEGACY_FORMATS` (settings) chooses the formats this project writes; it reads both whatever the setting.
`GOVA_LEGACY_ENCRYPTION_KEY` is the old ENCRYPTION_KEY; settings check its length at start-up.
"""

import base64
import binascii
import json
import os

import argon2
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

FORMATS_VARIABLE = "GOVA_LEGACY_FORMATS"
LEGACY_KEY_VARIABLE = "GOVA_LEGACY_ENCRYPTION_KEY"
DJANGO_ARGON2_PREFIX = "argon2"
DJANGO_HASH_PREFIX = "argon2$argon2id$"
LEGACY_HASH_PREFIX = "$argon2id$"
ENVELOPE_VERSION = "v1"
NONCE_BYTES = 12


class UnreadablePayload(ValueError):
    """Neither a legacy envelope the key opens nor plain JSON."""


def writes_legacy_formats() -> bool:
    """GOVA_LEGACY_FORMATS: passwords and payloads are written the old service's way."""
    return settings.GOVA_LEGACY_FORMATS


def legacy_key() -> bytes | None:
    """The old service's ENCRYPTION_KEY (GOVA_LEGACY_ENCRYPTION_KEY), or None when it is not set."""
    return settings.GOVA_LEGACY_ENCRYPTION_KEY.encode() or None


# -- passwords -------------------------------------------------------------------------------


def is_legacy_password(stored: str | None) -> bool:
    """An argon2id PHC string without Django's algorithm name: the old service's format."""
    return bool(stored) and stored.startswith(LEGACY_HASH_PREFIX)


def password_to_django(stored: str) -> str | None:
    """The Django form of a legacy argon2id PHC string; None when the value is not one."""
    return DJANGO_ARGON2_PREFIX + stored if is_legacy_password(stored) else None


def password_to_legacy(stored: str) -> str | None:
    """The PHC string the old service verifies, from a Django argon2id hash; None for any other hash."""
    return stored.removeprefix(DJANGO_ARGON2_PREFIX) if stored.startswith(DJANGO_HASH_PREFIX) else None


def legacy_password(raw_password: str) -> str:
    """A hash as the old service makes one: argon2-cffi's PasswordHasher() defaults (argon2id, t=3, 64 MiB,
    p=4, a 16-byte random salt), the bare PHC string. Its `check_needs_rehash` finds nothing to change."""
    return argon2.PasswordHasher().hash(raw_password)


# -- OAuth payloads ------------------------------------------------------------------------------


def envelope(stored: str) -> dict | None:
    """The legacy envelope `stored` holds, or None when it is not one (a Fernet token, plain JSON)."""
    try:
        found = json.loads(base64.b64decode(stored, validate=True))
    except (ValueError, binascii.Error):
        return None
    if isinstance(found, dict) and found.get("version") == ENVELOPE_VERSION and {"iv", "ct"} <= found.keys():
        return found
    return None


def plaintext_document(stored: str) -> dict | None:
    """The JSON object the old refresh path stored unencrypted, or None when `stored` is not one.

    Discord's token response is an object; "null" or a bare string read as JSON would lose the value.
    """
    if not stored.lstrip().startswith("{"):
        return None
    try:
        document = json.loads(stored)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def envelope_open(found: dict, *, user_id: str, key: bytes | None) -> str:
    """The plaintext JSON text of an envelope sealed for `user_id`; UnreadablePayload otherwise.

    The row's user id is the associated data, whatever the envelope says: an envelope copied to another
    user's row fails authentication instead of opening as that user's payload.
    """
    if found.get("aad", user_id) != user_id:
        raise UnreadablePayload("sealed for another user (its associated data is not this row's user id)")
    if key is None:
        raise UnreadablePayload(f"in the old service's AES-GCM envelope, and {LEGACY_KEY_VARIABLE} is not set")
    try:
        plaintext = AESGCM(key).decrypt(base64.b64decode(found["iv"]), base64.b64decode(found["ct"]), user_id.encode())
    except (InvalidTag, ValueError, TypeError, binascii.Error):
        raise UnreadablePayload(
            f"{LEGACY_KEY_VARIABLE} does not open it (another key, or another user's payload)"
        ) from None
    return plaintext.decode()


def payload_open(stored: str, *, user_id: str, key: bytes | None):
    """(document, "encrypted" | "plaintext") for a legacy payload; UnreadablePayload when nothing opens it."""
    found = envelope(stored)
    if found is not None:
        return json.loads(envelope_open(found, user_id=user_id, key=key)), "encrypted"
    document = plaintext_document(stored)
    if document is None:
        raise UnreadablePayload("neither a legacy AES-GCM envelope nor a JSON object")
    return document, "plaintext"


def payload_seal(document, *, user_id: str, key: bytes) -> str:
    """The legacy envelope for `document`, as the old service writes it (fresh nonce, aad = user id)."""
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, json.dumps(document).encode(), user_id.encode())
    sealed = {
        "version": ENVELOPE_VERSION,
        "iv": base64.b64encode(nonce).decode(),
        "ct": base64.b64encode(ciphertext).decode(),
        "aad": user_id,
    }
    return base64.b64encode(json.dumps(sealed).encode()).decode()
