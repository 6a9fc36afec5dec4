"""The old (FastAPI + SQLAlchemy) service's side of the shared `users` table, done as it does it.

Written from ../shared/reference/old-service-writes.md with argon2-cffi and cryptography's AESGCM used directly,
deliberately not with accounts.legacy_formats: the project's reading of these formats is what is under test.
"""

import base64
import json
import os
import uuid
from datetime import UTC, datetime

import argon2
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

LEGACY_KEY = "0123456789abcdef0123456789abcdef"  # the old service's ENCRYPTION_KEY (32 characters)
OTHER_KEY = "fedcba9876543210"


def seal(document: dict, user_id: str, key: str = LEGACY_KEY) -> str:
    """An OAuth payload as the old service encrypts it."""
    nonce = os.urandom(12)
    ciphertext = AESGCM(key.encode()).encrypt(nonce, json.dumps(document).encode(), user_id.encode())
    envelope = {"version": "v1", "iv": base64.b64encode(nonce).decode(), "ct": base64.b64encode(ciphertext).decode()}
    envelope["aad"] = user_id
    return base64.b64encode(json.dumps(envelope).encode()).decode()


def unseal(stored: str, user_id: str, key: str = LEGACY_KEY) -> dict:
    """What the old service reads back from a payload (cryptography's InvalidTag when it cannot)."""
    envelope = json.loads(base64.b64decode(stored))
    plaintext = AESGCM(key.encode()).decrypt(
        base64.b64decode(envelope["iv"]), base64.b64decode(envelope["ct"]), user_id.encode()
    )
    return json.loads(plaintext)


class OldService:
    """The old service's statements on `users`. `run(sql, params)` executes one and returns its rows."""

    def __init__(self, run):
        self.run = run
        self.hasher = argon2.PasswordHasher()

    def sign_up(self, username: str, password: str) -> str:
        user_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        self.run(
            "INSERT INTO users (user_id, username, email, password, pricing_tier, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, 'free', %s, %s)",
            [user_id, username, f"{username}@example.com", self.hasher.hash(password), now, now],
        )
        return user_id

    def log_in(self, email: str, password: str) -> bool:
        """PasswordHasher().verify on the stored value; argon2-cffi's InvalidHashError on a format it cannot read."""
        [(stored,)] = self.run("SELECT password FROM users WHERE email = %s", [email])
        try:
            return self.hasher.verify(stored, password)
        except argon2.exceptions.VerifyMismatchError:
            return False

    def change_password(self, user_id: str, password: str) -> None:
        self.run("UPDATE users SET password = %s, jwt = NULL WHERE user_id = %s", [self.hasher.hash(password), user_id])

    def connect_discord(self, user_id: str, payload: dict) -> None:
        self.run("UPDATE users SET discord_oauth_payload = %s WHERE user_id = %s", [seal(payload, user_id), user_id])

    def discord_payload(self, user_id: str) -> dict:
        [(stored,)] = self.run("SELECT discord_oauth_payload FROM users WHERE user_id = %s", [user_id])
        return unseal(stored, user_id)
