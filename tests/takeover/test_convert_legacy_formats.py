"""convert_legacy_formats: the old service's formats to Django's once it is retired (and back with --revert),
in batches beside live writers, resumable, refused while the setting would undo it."""

import json
from io import StringIO

import argon2
import psycopg
import pytest
from django.contrib.auth.hashers import make_password
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.fields import EncryptedJSONField
from accounts.models import User
from tests.factories import UserFactory
from tests.old_service import LEGACY_KEY, OTHER_KEY, OldService, seal, unseal

PASSWORD = "correct horse battery"
TOKENS = {"access_token": "discord-access", "expires_in": 604800}
field = User._meta.get_field("discord_oauth_payload")


def run(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def stored(user_id) -> tuple:
    [row] = run("SELECT password, discord_oauth_payload FROM users WHERE user_id = %s", [user_id])
    return row


def convert(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("convert_legacy_formats", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue() + f"CommandError: {exc}"
    return out.getvalue(), err.getvalue()


def set_payload(user_id, value):
    run("UPDATE users SET discord_oauth_payload = %s WHERE user_id = %s", [value, user_id])


@pytest.fixture
def old_service():
    return OldService(run)


@pytest.fixture
def retired(settings):
    settings.GOVA_LEGACY_FORMATS = False
    settings.GOVA_LEGACY_ENCRYPTION_KEY = LEGACY_KEY


@pytest.fixture
def beside(settings):
    settings.GOVA_LEGACY_FORMATS = True
    settings.GOVA_LEGACY_ENCRYPTION_KEY = LEGACY_KEY


@pytest.mark.django_db
def test_beside_the_old_service_the_conversion_is_refused_and_changes_nothing(beside, old_service):
    user_id = old_service.sign_up("alice", PASSWORD)
    old_service.connect_discord(user_id, TOKENS)
    before = stored(user_id)
    out, err = convert()
    assert "GOVA_LEGACY_FORMATS=true" in err and "nothing was changed" in err and err.count("\n") == 0
    assert stored(user_id) == before


@pytest.mark.django_db
def test_revert_is_refused_while_this_project_writes_its_own_formats(retired):
    user = UserFactory(discord_oauth_payload=TOKENS)
    before = stored(user.pk)
    _, err = convert("--revert")
    assert "--revert needs GOVA_LEGACY_FORMATS=true" in err and "nothing was changed" in err
    assert stored(user.pk) == before


@pytest.mark.django_db
def test_envelopes_without_the_key_are_refused_before_anything_changes(retired, settings, old_service):
    user_id = old_service.sign_up("bob", PASSWORD)
    old_service.connect_discord(user_id, TOKENS)
    settings.GOVA_LEGACY_ENCRYPTION_KEY = ""
    before = stored(user_id)
    _, err = convert()
    assert "1 OAuth payload(s) are the old service's AES-GCM envelopes" in err and "nothing was changed" in err
    assert stored(user_id) == before


@pytest.mark.django_db
def test_every_batch_is_converted_and_a_second_run_finds_nothing_to_do(retired, old_service):
    signed_up = [old_service.sign_up(f"legacy{n}", PASSWORD) for n in range(5)]
    for n, user_id in enumerate(signed_up[:4]):
        (old_service.connect_discord if n % 2 else lambda u, p: set_payload(u, json.dumps(p)))(user_id, {"n": n})
    ours = UserFactory(discord_oauth_payload={"mine": True})  # Django's formats already
    lost = old_service.sign_up("lost", PASSWORD)
    set_payload(lost, seal(TOKENS, lost, OTHER_KEY))
    odd = old_service.sign_up("odd", PASSWORD)
    run("UPDATE users SET password = %s WHERE user_id = %s", ["$argon2i$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA", odd])
    hashes = {user_id: stored(user_id)[0] for user_id in signed_up}
    ours_before = stored(ours.pk)

    out, err = convert("--batch-size", "2")
    assert "users.password: 6 converted to Django's format, 1 left as they are" in out
    assert "users.discord_oauth_payload: 4 converted to Django's format, 1 in it already, 1 unreadable" in out
    assert (
        f"user_id={lost} cannot be decrypted" in err
        and f"other than argon2id: these users need a password reset): {odd}" in err
    )
    assert "CommandError: 1 payload(s) could not be decrypted" in err

    for n, user_id in enumerate(signed_up):
        password, payload = stored(user_id)
        assert password == "argon2" + hashes[user_id]  # the same hash behind Django's name: nothing re-hashed
        assert (payload is None) if n == 4 else payload.startswith("gAAAAA")
    assert [User.objects.get(pk=u).discord_oauth_payload for u in signed_up[:4]] == [{"n": n} for n in range(4)]
    assert stored(ours.pk) == ours_before
    assert stored(lost)[1] is not None and stored(odd)[0].startswith("$argon2i$")

    out, _ = convert("--batch-size", "2")
    assert "users.password: 0 converted" in out and "users.discord_oauth_payload: 0 converted" in out


@pytest.mark.django_db
def test_revert_hands_the_old_service_what_it_reads(beside, old_service):
    alice = UserFactory(username="alice", email="alice@example.com", discord_oauth_payload=None)
    User.objects.filter(pk=alice.pk).update(password=make_password(PASSWORD))  # Django's form, made before
    set_payload(alice.pk, field.encrypt(json.dumps(TOKENS)))  # a Fernet token, written with the setting off
    bob = UserFactory(username="bob", email="bob@example.com")
    User.objects.filter(pk=bob.pk).update(password=make_password(PASSWORD, hasher="pbkdf2_sha256"))
    carol = old_service.sign_up("carol", PASSWORD)
    old_service.connect_discord(carol, TOKENS)
    carol_before = stored(carol)

    out, err = convert("--revert", "--batch-size", "1")
    assert "users.password: 1 converted to the old service's format, 1 left as they are" in out
    assert "users.discord_oauth_payload: 1 converted to the old service's format, 1 in it already, 0 unreadable" in out
    assert "the old service cannot verify them; these users log in here once" in err and str(bob.pk) in err
    assert old_service.log_in("alice@example.com", PASSWORD)
    assert unseal(stored(alice.pk)[1], str(alice.pk)) == TOKENS
    assert stored(carol) == carol_before
    assert User.objects.get(pk=alice.pk).discord_oauth_payload == TOKENS

    out, _ = convert("--revert")
    assert "users.password: 0 converted" in out and "users.discord_oauth_payload: 0 converted" in out


def other_connection():
    """A second session, as another app server would have: it sees only what is committed."""
    params = connection.get_connection_params()
    keys = {"host", "port", "user", "password", "dbname"}
    return psycopg.connect(**{key: value for key, value in params.items() if key in keys}, autocommit=True)


@pytest.mark.django_db(transaction=True)
def test_a_payload_written_by_another_connection_during_the_conversion_is_kept(retired, old_service, monkeypatch):
    users = [old_service.sign_up(f"legacy{n}", PASSWORD) for n in range(3)]
    for n, user_id in enumerate(users):
        old_service.connect_discord(user_id, {"v": "old", "n": n})
    written_meanwhile = field.encrypt(json.dumps({"v": "new"}))  # Django's own write, the setting off
    encrypt = EncryptedJSONField.encrypt

    def encrypt_while_another_session_writes(self, plaintext):
        # Between reading the batch and writing it back, another session changes the second row.
        if json.loads(plaintext) == {"v": "old", "n": 1}:
            with other_connection() as other:
                other.execute(
                    "UPDATE users SET discord_oauth_payload = %s WHERE user_id = %s", [written_meanwhile, users[1]]
                )
        return encrypt(self, plaintext)

    monkeypatch.setattr(EncryptedJSONField, "encrypt", encrypt_while_another_session_writes)
    out, _ = convert("--batch-size", "10")
    assert "2 converted to Django's format, 1 in it already" in out
    assert stored(users[1])[1] == written_meanwhile
    assert [User.objects.get(pk=u).discord_oauth_payload for u in users] == [
        {"v": "old", "n": 0},
        {"v": "new"},
        {"v": "old", "n": 2},
    ]
    assert argon2.PasswordHasher().verify(stored(users[0])[0].removeprefix("argon2"), PASSWORD)
