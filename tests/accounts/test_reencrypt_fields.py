"""reencrypt_fields beside live writers: no payload lost, rows already rotated left alone, unreadable rows named."""

import json
from io import StringIO

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings

from accounts.fields import EncryptedJSONField
from accounts.models import User
from tests.factories import UserFactory
from tests.old_service import seal

OLD, NEW = "old-salt", "new-salt"
field = User._meta.get_field("discord_oauth_payload")


def stored_token(user_id):
    with connection.cursor() as cursor:
        cursor.execute("SELECT discord_oauth_payload FROM users WHERE user_id = %s", [user_id])
        return cursor.fetchone()[0]


def payload(user_id):
    return User.objects.get(pk=user_id).discord_oauth_payload


def reencrypt(**options):
    out, err = StringIO(), StringIO()
    call_command("reencrypt_fields", stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def other_connection():
    """A second session, as another app server would have: it sees only what is committed."""
    params = connection.get_connection_params()
    keys = {"host", "port", "user", "password", "dbname"}
    return psycopg.connect(**{key: value for key, value in params.items() if key in keys}, autocommit=True)


@pytest.mark.django_db(transaction=True)
def test_a_payload_written_by_another_connection_during_the_rotation_is_kept(monkeypatch):
    with override_settings(SALT_KEY=[OLD]):
        users = [UserFactory(discord_oauth_payload={"v": "old", "n": n}).pk for n in range(3)]
        # The other writer runs the old configuration: its token is under the old key.
        written_meanwhile = field.encrypt(json.dumps({"v": "new"}))
    rotate = EncryptedJSONField.rotate

    def rotate_while_another_session_writes(self, token):
        # Between reading the batch and writing it back, another session changes the second row.
        if token == first_tokens[users[1]]:
            with other_connection() as other:
                other.execute(
                    "UPDATE users SET discord_oauth_payload = %s WHERE user_id = %s", [written_meanwhile, users[1]]
                )
        return rotate(self, token)

    first_tokens = {user_id: stored_token(user_id) for user_id in users}
    monkeypatch.setattr(EncryptedJSONField, "rotate", rotate_while_another_session_writes)
    with override_settings(SALT_KEY=[NEW, OLD]):
        out, _ = reencrypt(batch_size=2)
    assert "3 re-encrypted" in out
    with override_settings(SALT_KEY=[NEW]):  # every row under the new key, the concurrent write included
        assert [payload(user_id) for user_id in users] == [{"v": "old", "n": 0}, {"v": "new"}, {"v": "old", "n": 2}]


@pytest.mark.django_db
def test_a_second_run_leaves_rotated_rows_alone():
    with override_settings(SALT_KEY=[OLD]):
        users = [UserFactory(discord_oauth_payload={"n": n}).pk for n in range(3)]
    with override_settings(SALT_KEY=[NEW, OLD]):
        reencrypt()
        rotated = [stored_token(user_id) for user_id in users]
        out, _ = reencrypt()
    assert "0 re-encrypted, 3 already under the current key" in out
    assert [stored_token(user_id) for user_id in users] == rotated


@pytest.mark.django_db
def test_rows_no_key_opens_are_named_skipped_and_fail_the_run():
    with override_settings(SALT_KEY=["a-lost-salt"]):
        lost = UserFactory(discord_oauth_payload={"lost": True})
    with override_settings(SALT_KEY=[OLD]):
        kept = UserFactory(discord_oauth_payload={"kept": True})
    lost_token = stored_token(lost.pk)
    err = StringIO()
    with override_settings(SALT_KEY=[NEW, OLD]):
        with pytest.raises(CommandError, match="1 row"):
            call_command("reencrypt_fields", stdout=StringIO(), stderr=err)
    assert f"user_id={lost.pk} cannot be decrypted" in err.getvalue()
    assert stored_token(lost.pk) == lost_token
    with override_settings(SALT_KEY=[NEW]):
        assert payload(kept.pk) == {"kept": True}


@pytest.mark.django_db
def test_payloads_in_the_old_services_formats_are_left_to_convert_legacy_formats():
    envelope_user, plain_user = UserFactory(), UserFactory()
    envelope = seal({"access_token": "a"}, str(envelope_user.pk))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE users SET discord_oauth_payload = %s WHERE user_id = %s", [envelope, envelope_user.pk])
        cursor.execute("UPDATE users SET discord_oauth_payload = '{\"a\": 1}' WHERE user_id = %s", [plain_user.pk])
    out, err = reencrypt()
    assert "0 re-encrypted, 0 already under the current key, 2 in the old service's formats" in out and err == ""
    assert stored_token(envelope_user.pk) == envelope and stored_token(plain_user.pk) == '{"a": 1}'
