"""The old service's formats, converted without a password or a payload leaving memory: password hashes differ
from Django's by a prefix; OAuth payloads are AES-GCM envelopes with the user id as associated data."""

import base64
import json
import uuid

import argon2
import pytest
from django.contrib.auth.hashers import check_password, make_password

from accounts.legacy_formats import (
    UnreadablePayload,
    password_to_django,
    password_to_legacy,
    payload_open,
    payload_seal,
)
from tests.old_service import LEGACY_KEY, OTHER_KEY, seal

PASSWORD = "correct horse battery"
DOCUMENT = {"access_token": "a", "refresh_token": "r", "expires_in": 604800, "token_type": "Bearer"}


def test_a_legacy_hash_verifies_here_and_converts_back_to_the_same_string():
    phc = argon2.PasswordHasher().hash(PASSWORD)
    stored = password_to_django(phc)
    assert check_password(PASSWORD, stored)
    assert password_to_legacy(stored) == phc


def test_a_hash_made_here_verifies_in_the_old_service():
    assert argon2.PasswordHasher().verify(password_to_legacy(make_password(PASSWORD)), PASSWORD)


def test_hashes_of_other_algorithms_are_left_alone():
    assert password_to_django(make_password(PASSWORD, hasher="pbkdf2_sha256")) is None
    assert password_to_legacy(make_password(PASSWORD, hasher="pbkdf2_sha256")) is None
    assert password_to_django("$argon2i$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA") is None


def test_an_envelope_made_as_the_old_service_makes_it_opens():
    user_id = str(uuid.uuid4())
    assert payload_open(seal(DOCUMENT, user_id), user_id=user_id, key=LEGACY_KEY.encode()) == (DOCUMENT, "encrypted")


def test_a_sealed_payload_opens_in_the_old_services_way():
    user_id = str(uuid.uuid4())
    stored = payload_seal(DOCUMENT, user_id=user_id, key=LEGACY_KEY.encode())
    envelope = json.loads(base64.b64decode(stored))
    assert envelope["version"] == "v1" and envelope["aad"] == user_id and len(base64.b64decode(envelope["iv"])) == 12
    assert payload_open(stored, user_id=user_id, key=LEGACY_KEY.encode()) == (DOCUMENT, "encrypted")


def test_plain_json_objects_are_read_as_plaintext():
    assert payload_open(json.dumps(DOCUMENT), user_id="x", key=None) == (DOCUMENT, "plaintext")


@pytest.mark.parametrize(
    ("stored", "user_id", "key"),
    [
        pytest.param(seal(DOCUMENT, "u1", OTHER_KEY), "u1", LEGACY_KEY, id="another key"),
        pytest.param(seal(DOCUMENT, "u1"), "u2", LEGACY_KEY, id="another user's payload"),
        pytest.param(seal(DOCUMENT, "u1"), "u1", None, id="no key"),
        pytest.param("gAAAAABnot-a-json-document", "u1", LEGACY_KEY, id="garbage"),
        pytest.param("null", "u1", LEGACY_KEY, id="JSON but not an object"),
    ],
)
def test_what_nothing_opens_is_reported_not_guessed(stored, user_id, key):
    with pytest.raises(UnreadablePayload):
        payload_open(stored, user_id=user_id, key=key and key.encode())
