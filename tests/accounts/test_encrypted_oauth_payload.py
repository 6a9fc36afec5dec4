import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from accounts.fields import DecryptionError
from accounts.models import User
from tests.factories import UserFactory

PAYLOAD = {
    "access_token": "discord-access-token-secret",
    "refresh_token": "discord-refresh-token",
    "expires_in": 604800,
    "scope": "identify guilds",
    "token_type": "Bearer",
    "nested": {"ratio": 0.25, "flags": [True, False, None], "name": "Zoë"},
}


def raw_payload(user) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT discord_oauth_payload FROM users WHERE user_id = %s", [user.pk])
        return cursor.fetchone()[0]


def reload(user) -> User:
    return User.objects.get(pk=user.pk)


@pytest.mark.django_db
def test_payload_round_trips_with_its_types():
    user = UserFactory(discord_oauth_payload=PAYLOAD)
    assert reload(user).discord_oauth_payload == PAYLOAD
    assert isinstance(reload(user).discord_oauth_payload["expires_in"], int)


@pytest.mark.django_db
def test_column_holds_ciphertext_only():
    user = UserFactory(discord_oauth_payload=PAYLOAD)
    stored = raw_payload(user)
    assert stored.startswith("gAAAAA")  # a Fernet token
    for secret in ("discord-access-token-secret", "access_token", "Bearer", "604800"):
        assert secret not in stored


@pytest.mark.django_db
def test_null_payload_stays_null():
    user = UserFactory(discord_oauth_payload=None)
    assert raw_payload(user) is None and reload(user).discord_oauth_payload is None


@pytest.mark.django_db
def test_loading_a_user_does_not_read_or_decrypt_the_payload():
    user = UserFactory(discord_oauth_payload=PAYLOAD)
    with CaptureQueriesContext(connection) as queries:
        loaded = User.objects.get(pk=user.pk)
    assert "discord_oauth_payload" not in queries.captured_queries[0]["sql"]
    assert loaded.discord_oauth_payload == PAYLOAD  # read on demand


@pytest.mark.django_db
def test_wrong_key_raises_instead_of_returning_ciphertext():
    user = UserFactory(discord_oauth_payload=PAYLOAD)
    with override_settings(SALT_KEY=["a-salt-that-never-wrote-anything"]):
        with pytest.raises(DecryptionError, match="cannot be decrypted"):
            reload(user).discord_oauth_payload  # noqa: B018


@pytest.mark.django_db
def test_rotated_salt_keeps_old_rows_readable_and_reencrypt_moves_them_to_the_new_key(settings):
    old_salt = settings.SALT_KEY[0]
    user = UserFactory(discord_oauth_payload=PAYLOAD)
    before = raw_payload(user)
    with override_settings(SALT_KEY=["new-salt", old_salt]):
        assert reload(user).discord_oauth_payload == PAYLOAD
        call_command("reencrypt_fields", stdout=io.StringIO())
        assert raw_payload(user) != before
    with override_settings(SALT_KEY=["new-salt"]):  # the old salt is gone
        assert reload(user).discord_oauth_payload == PAYLOAD


@pytest.mark.django_db
def test_rotated_secret_key_reads_through_fallbacks(settings):
    user = UserFactory(discord_oauth_payload=PAYLOAD)
    with override_settings(SECRET_KEY="a-brand-new-secret-key", SECRET_KEY_FALLBACKS=[settings.SECRET_KEY]):
        assert reload(user).discord_oauth_payload == PAYLOAD
    with override_settings(SECRET_KEY="a-brand-new-secret-key", SECRET_KEY_FALLBACKS=[]):
        with pytest.raises(DecryptionError):
            reload(user).discord_oauth_payload  # noqa: B018


@pytest.mark.django_db
def test_dumpdata_writes_ciphertext_and_loaddata_reads_it_back(tmp_path):
    user = UserFactory(discord_oauth_payload=PAYLOAD)
    fixture = tmp_path / "users.json"
    call_command("dumpdata", "accounts.User", output=str(fixture))
    assert "discord-access-token-secret" not in fixture.read_text()
    User.objects.all().delete()
    call_command("loaddata", str(fixture), verbosity=0)
    assert reload(user).discord_oauth_payload == PAYLOAD
