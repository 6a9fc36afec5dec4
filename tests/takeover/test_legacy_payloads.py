"""The old service's OAuth payload format (AES-GCM envelope, aad = user id) read and written."""

import base64
import json
import uuid

import pytest
from django.core.management.base import CommandError

from takeover.legacy_formats import UnreadablePayload, legacy_key, payload_open, payload_seal
from tests.takeover.legacy_service import LEGACY_KEY, OTHER_KEY, seal

DOCUMENT = {"access_token": "a", "refresh_token": "r", "expires_in": 604800, "token_type": "Bearer"}


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


def test_a_key_of_the_wrong_length_is_refused_without_showing_it(monkeypatch):
    monkeypatch.setenv("GOVA_LEGACY_ENCRYPTION_KEY", "sekrit-value-123")
    assert legacy_key() == b"sekrit-value-123"
    monkeypatch.setenv("GOVA_LEGACY_ENCRYPTION_KEY", "sekrit-value")
    with pytest.raises(CommandError) as error:
        legacy_key()
    assert "sekrit" not in str(error.value) and "12 bytes" in str(error.value)
