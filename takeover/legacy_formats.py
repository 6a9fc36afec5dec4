"""The old (Alembic) service's formats for passwords and OAuth payloads, and their conversion to ours.

Passwords: the old service stored argon2-cffi's PHC string (`$argon2id$v=19$m=65536,t=3,p=4$salt$hash`).
Django's Argon2PasswordHasher stores the same string behind its algorithm name (`argon2$argon2id$...`), so
converting is adding or removing that prefix: no password is needed and nothing is re-hashed.

OAuth payloads: base64 of `{"version": "v1", "iv": b64 nonce, "ct": b64 ciphertext+tag, "aad": user id}`,
AES-GCM with the UTF-8 bytes of the old ENCRYPTION_KEY and the user id as associated data. Some rows hold
plain `json.dumps(...)` text: the old token refresh path stored it unencrypted.
"""

import base64
import binascii
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.management.base import CommandError

LEGACY_KEY_VARIABLE = "GOVA_LEGACY_ENCRYPTION_KEY"
DJANGO_ARGON2_PREFIX = "argon2"
LEGACY_HASH_PREFIX = "$argon2id$"
ENVELOPE_VERSION = "v1"
NONCE_BYTES = 12


class UnreadablePayload(ValueError):
    """Neither a legacy envelope the key opens nor plain JSON."""


def legacy_key() -> bytes | None:
    """The old service's ENCRYPTION_KEY from the environment (never an argument: `ps` shows those), or None."""
    value = os.environ.get(LEGACY_KEY_VARIABLE, "")
    if not value:
        return None
    key = value.encode()
    if len(key) not in (16, 24, 32):
        # The length only: the value never appears in an error or a log.
        raise CommandError(
            f"{LEGACY_KEY_VARIABLE} must be the old service's ENCRYPTION_KEY, 16, 24 or 32 bytes long; "
            f"it is {len(key)} bytes. Nothing was changed."
        )
    return key


def password_to_django(stored: str) -> str | None:
    """The Django form of a legacy argon2id PHC string; None when the value is not one."""
    return DJANGO_ARGON2_PREFIX + stored if stored.startswith(LEGACY_HASH_PREFIX) else None


def password_to_legacy(stored: str) -> str | None:
    """The PHC string the old service verifies, from a Django argon2 hash; None for any other hash."""
    return stored.removeprefix(DJANGO_ARGON2_PREFIX) if stored.startswith("argon2$argon2id$") else None


def payload_open(stored: str, *, user_id: str, key: bytes | None):
    """(document, "encrypted" | "plaintext") for a legacy payload; UnreadablePayload when nothing opens it."""
    envelope = _envelope(stored)
    if envelope is not None:
        if key is None:
            raise UnreadablePayload("encrypted with the legacy key, which is not set")
        try:
            plaintext = AESGCM(key).decrypt(
                base64.b64decode(envelope["iv"]), base64.b64decode(envelope["ct"]), user_id.encode()
            )
        except (InvalidTag, ValueError, binascii.Error):
            raise UnreadablePayload(
                "the legacy key does not open it (another key, or another user's payload)"
            ) from None
        return json.loads(plaintext), "encrypted"
    try:
        document = json.loads(stored)
    except ValueError:
        document = None
    # Discord's token response is an object; "null" or a bare string read as JSON would lose the value.
    if not isinstance(document, dict):
        raise UnreadablePayload("neither a legacy AES-GCM envelope nor a JSON object")
    return document, "plaintext"


def payload_seal(document, *, user_id: str, key: bytes) -> str:
    """The legacy envelope for `document`, as the old service writes it (fresh nonce, aad = user id)."""
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, json.dumps(document).encode(), user_id.encode())
    envelope = {
        "version": ENVELOPE_VERSION,
        "iv": base64.b64encode(nonce).decode(),
        "ct": base64.b64encode(ciphertext).decode(),
        "aad": user_id,
    }
    return base64.b64encode(json.dumps(envelope).encode()).decode()


def _envelope(stored: str) -> dict | None:
    try:
        envelope = json.loads(base64.b64decode(stored, validate=True))
    except (ValueError, binascii.Error):
        return None
    if isinstance(envelope, dict) and envelope.get("version") == ENVELOPE_VERSION and {"iv", "ct"} <= envelope.keys():
        return envelope
    return None
