"""Beside the old service: passwords and OAuth payloads in formats both services read, chosen by one setting.

With GOVA_LEGACY_FORMATS=true this project writes the old service's formats (the bare argon2id PHC string, the
AES-GCM envelope bound to the user id); whatever the setting it reads both. The old service's side is
tests.old_service: argon2-cffi and AESGCM used directly, and its own statements on the same table.
"""

import base64
import json

import argon2
import pytest
from cryptography.exceptions import InvalidTag
from django.contrib.auth import authenticate
from django.db import connection, transaction
from django.test import RequestFactory
from django.urls import reverse

from accounts.fields import DecryptionError
from accounts.models import User
from tests.factories import UserFactory
from tests.old_service import LEGACY_KEY, OTHER_KEY, OldService, seal, unseal

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
TOKENS = {"access_token": "discord-access", "refresh_token": "discord-refresh", "expires_in": 604800}


def run(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def stored(user_id) -> tuple[str, str | None]:
    [row] = run("SELECT password, discord_oauth_payload FROM users WHERE user_id = %s", [user_id])
    return row


def log_in(username, password):
    # django-axes (login throttling) needs the request every real login has.
    return authenticate(RequestFactory().post("/admin/login/"), username=username, password=password)


def admin_log_in(client, username, password=PASSWORD) -> bool:
    response = client.post(reverse("admin:login"), {"username": username, "password": password})
    return response.status_code == 302 and "_auth_user_id" in client.session


@pytest.fixture
def old_service():
    return OldService(run)


@pytest.fixture
def beside(settings):
    """GOVA_LEGACY_FORMATS=true, as beside a running old service."""
    settings.GOVA_LEGACY_FORMATS = True
    settings.GOVA_LEGACY_ENCRYPTION_KEY = LEGACY_KEY


@pytest.fixture
def converted(settings):
    """GOVA_LEGACY_FORMATS=false with the old key still set, as after the old service is retired."""
    settings.GOVA_LEGACY_FORMATS = False
    settings.GOVA_LEGACY_ENCRYPTION_KEY = LEGACY_KEY


# -- the round trips, both directions -----------------------------------------------------------


def test_every_round_trip_with_the_old_service_works_beside_it(beside, old_service):
    # Old service → Django: sign-up, password change and OAuth connect.
    alice = old_service.sign_up("alice", PASSWORD)
    assert log_in("alice@example.com", PASSWORD).pk == log_in("alice", PASSWORD).pk == User.objects.get(pk=alice).pk
    old_service.change_password(alice, "alice's second password")
    assert log_in("alice", PASSWORD) is None and log_in("alice", "alice's second password") is not None
    old_service.connect_discord(alice, TOKENS)
    assert User.objects.get(pk=alice).discord_oauth_payload == TOKENS

    # Django → old service: a user made here, a password and a payload set here.
    bob = User.objects.create_user(username="bob", email="bob@example.com", password=PASSWORD)
    assert old_service.log_in("bob@example.com", PASSWORD)
    bob.set_password("bob's second password")
    bob.discord_oauth_payload = {"access_token": "set here"}
    bob.save()
    assert old_service.log_in("bob@example.com", "bob's second password")
    assert not old_service.log_in("bob@example.com", PASSWORD)
    assert old_service.discord_payload(str(bob.pk)) == {"access_token": "set here"}

    # And back: what the old service reads of Django's writes, Django reads too.
    assert log_in("bob", "bob's second password") == bob
    assert User.objects.get(pk=bob.pk).discord_oauth_payload == {"access_token": "set here"}


# -- passwords ----------------------------------------------------------------------------------


def test_a_login_beside_the_old_service_leaves_its_hash_as_it_wrote_it(beside, old_service):
    user_id = old_service.sign_up("carol", PASSWORD)
    before = stored(user_id)[0]
    assert before.startswith("$argon2id$")
    assert log_in("carol@example.com", PASSWORD) is not None
    assert log_in("carol@example.com", "wrong password") is None
    assert stored(user_id)[0] == before


def test_staff_log_in_to_the_admin_with_a_password_the_old_service_set(beside, old_service, client):
    user_id = old_service.sign_up("dora", PASSWORD)
    User.objects.filter(pk=user_id).update(is_staff=True, is_superuser=True)
    before = stored(user_id)[0]
    assert admin_log_in(client, "dora") and client.session["_auth_user_id"] == user_id
    assert client.get(reverse("admin:index")).status_code == 200
    assert stored(user_id)[0] == before
    # The change page summarises the old service's hash instead of calling it an unknown format.
    page = client.get(reverse("admin:accounts_user_change", args=[user_id])).content.decode()
    assert "argon2id" in page and "Invalid password format" not in page and before not in page


def test_every_way_of_setting_a_password_here_gives_a_hash_the_old_service_verifies(beside, old_service, admin_client):
    User.objects.create_superuser(username="root", email="root@example.com", password="root password 1")
    assert old_service.log_in("root@example.com", "root password 1")
    erin = User.objects.create_user(username="erin", email="erin@example.com", password="erin password 1")
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[erin.pk]),
        {"password1": "erin password 2", "password2": "erin password 2", "usable_password": "true"},
    )
    assert response.status_code == 302
    assert old_service.log_in("erin@example.com", "erin password 2")
    phc = stored(erin.pk)[0]
    # argon2-cffi's defaults (its 16-byte salt included): the old service finds nothing to rehash.
    assert phc.startswith("$argon2id$") and not argon2.PasswordHasher().check_needs_rehash(phc)


def test_a_hash_in_djangos_form_moves_to_the_old_services_at_a_login_beside_it(beside, old_service):
    user = UserFactory(username="fay", email="fay@example.com")  # hashed with make_password: Django's form
    django_form = stored(user.pk)[0]
    assert django_form.startswith("argon2$argon2id$")
    with pytest.raises(argon2.exceptions.InvalidHashError):
        old_service.log_in("fay@example.com", PASSWORD)
    assert log_in("fay", PASSWORD) == user
    assert stored(user.pk)[0] == django_form.removeprefix("argon2")  # the same hash, not a new one
    assert old_service.log_in("fay@example.com", PASSWORD)


def test_with_the_setting_off_a_login_moves_the_old_services_hash_to_djangos_form(converted, old_service, client):
    user_id = old_service.sign_up("gus", PASSWORD)
    User.objects.filter(pk=user_id).update(is_staff=True)
    phc = stored(user_id)[0]
    assert admin_log_in(client, "gus")
    assert stored(user_id)[0] == "argon2" + phc
    # Signed sessions survive the change of form: the same hash either way.
    assert client.get(reverse("admin:index")).status_code == 200
    user = User.objects.create_user(username="hal", email="hal@example.com", password=PASSWORD)
    assert stored(user.pk)[0].startswith("argon2$argon2id$")


def test_a_password_the_old_service_changes_during_a_login_here_is_not_overwritten(converted, old_service):
    user_id = old_service.sign_up("ida", PASSWORD)
    user = User.objects.get(pk=user_id)  # read before the old service's change
    old_service.change_password(user_id, "ida's new password")
    assert user.check_password(PASSWORD)  # the hash it read; the upgrade it would write finds another hash
    assert old_service.log_in("ida@example.com", "ida's new password")


def test_a_session_stays_valid_when_the_hash_changes_form(beside, old_service, client):
    user_id = old_service.sign_up("jo", PASSWORD)
    User.objects.filter(pk=user_id).update(is_staff=True)
    assert admin_log_in(client, "jo")
    User.objects.filter(pk=user_id).update(password="argon2" + stored(user_id)[0])  # convert_legacy_formats
    assert client.get(reverse("admin:index")).status_code == 200
    old_service.change_password(user_id, "a new password ends it")
    assert client.get(reverse("admin:index")).status_code == 302


# -- OAuth payloads -----------------------------------------------------------------------------


def test_with_the_setting_off_both_formats_are_read_and_djangos_is_written(converted, old_service):
    user_id = old_service.sign_up("kim", PASSWORD)
    old_service.connect_discord(user_id, TOKENS)
    user = User.objects.get(pk=user_id)
    assert user.discord_oauth_payload == TOKENS
    user.discord_oauth_payload = {**TOKENS, "access_token": "refreshed"}
    user.save()
    assert stored(user_id)[1].startswith("gAAAAA")  # a Fernet token
    assert User.objects.get(pk=user_id).discord_oauth_payload["access_token"] == "refreshed"


def test_the_plain_json_of_the_old_refresh_path_is_read(beside):
    user = UserFactory()
    run("UPDATE users SET discord_oauth_payload = %s WHERE user_id = %s", [json.dumps(TOKENS), user.pk])
    assert User.objects.get(pk=user.pk).discord_oauth_payload == TOKENS


def test_a_payload_written_here_beside_the_old_service_is_sealed_for_its_user(beside):
    created = User.objects.create(username="lee", email="lee@example.com", discord_oauth_payload=TOKENS)
    [bulk] = User.objects.bulk_create([User(username="max", email="max@example.com", discord_oauth_payload=TOKENS)])
    for user in (created, bulk):
        envelope = json.loads(base64.b64decode(stored(user.pk)[1]))
        assert envelope["version"] == "v1" and envelope["aad"] == str(user.pk)
        assert unseal(stored(user.pk)[1], str(user.pk)) == TOKENS
        assert User.objects.get(pk=user.pk).discord_oauth_payload == TOKENS


def test_an_envelope_moved_to_another_users_row_is_refused(beside, old_service):
    owner, other = old_service.sign_up("nia", PASSWORD), old_service.sign_up("oz", PASSWORD)
    old_service.connect_discord(owner, TOKENS)
    moved = stored(owner)[1]
    # The envelope's own aad field rewritten to the other user does not help: the tag binds the owner's id.
    relabelled = json.loads(base64.b64decode(moved)) | {"aad": other}
    for envelope in (moved, base64.b64encode(json.dumps(relabelled).encode()).decode()):
        run("UPDATE users SET discord_oauth_payload = %s WHERE user_id = %s", [envelope, other])
        with pytest.raises(DecryptionError) as error:
            User.objects.get(pk=other).discord_oauth_payload  # noqa: B018
        assert LEGACY_KEY not in str(error.value)
        with pytest.raises(InvalidTag):
            unseal(envelope, other)  # the old service refuses it too
    assert User.objects.get(pk=owner).discord_oauth_payload == TOKENS


def test_an_envelope_no_key_opens_is_a_decryption_error_and_the_row_still_shows(beside, admin_client):
    user = UserFactory()
    run(
        "UPDATE users SET discord_oauth_payload = %s WHERE user_id = %s",
        [seal(TOKENS, str(user.pk), OTHER_KEY), user.pk],
    )
    with pytest.raises(DecryptionError, match="GOVA_LEGACY_ENCRYPTION_KEY does not open it") as error:
        User.objects.get(pk=user.pk).discord_oauth_payload  # noqa: B018
    assert LEGACY_KEY not in str(error.value) and OTHER_KEY not in str(error.value)
    for page in ("changelist", "change"):
        args = [] if page == "changelist" else [user.pk]
        assert admin_client.get(reverse(f"admin:accounts_user_{page}", args=args)).status_code == 200


def test_without_the_key_an_envelope_names_the_missing_setting(converted, settings):
    user = UserFactory()
    run("UPDATE users SET discord_oauth_payload = %s WHERE user_id = %s", [seal(TOKENS, str(user.pk)), user.pk])
    settings.GOVA_LEGACY_ENCRYPTION_KEY = ""
    with pytest.raises(DecryptionError, match="GOVA_LEGACY_ENCRYPTION_KEY is not set"):
        User.objects.get(pk=user.pk).discord_oauth_payload  # noqa: B018


def test_an_update_that_cannot_seal_for_its_user_is_refused_beside_the_old_service(beside):
    user = UserFactory()
    with pytest.raises(ValueError, match="saving its user"), transaction.atomic():
        User.objects.filter(pk=user.pk).update(discord_oauth_payload=TOKENS)
    assert stored(user.pk)[1] is None
