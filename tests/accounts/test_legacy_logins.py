"""Users of the old service log in here with their old passwords, by email or username, and every hash this
project writes stays one the old service can verify once `adopt_alembic_db --revert` has run."""

import argon2
import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory
from django.urls import reverse

from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
# Django's Argon2 hasher stores argon2-cffi's PHC string behind its algorithm name.
ARGON2_PREFIX = "argon2"


def log_in(**credentials):
    # django-axes (login throttling) needs the request every real login has.
    return authenticate(RequestFactory().post("/admin/login/"), **credentials)


def legacy_user(**fields) -> User:
    """A user as adoption leaves them: the old service's PHC hash behind Django's `argon2` prefix."""
    user = UserFactory(**fields)
    User.objects.filter(pk=user.pk).update(password=ARGON2_PREFIX + argon2.PasswordHasher().hash(PASSWORD))
    return User.objects.get(pk=user.pk)


def test_a_legacy_user_logs_in_by_email_and_by_username_without_a_rehash():
    user = legacy_user(username="alice", email="alice@example.com")
    assert log_in(username="alice@example.com", password=PASSWORD) == user
    assert log_in(username="alice", password=PASSWORD) == user
    assert log_in(email="alice@example.com", password=PASSWORD) == user
    # Same parameters as argon2-cffi's defaults: the stored hash is left alone.
    assert User.objects.get(pk=user.pk).password == user.password


def test_wrong_passwords_and_unknown_logins_are_refused():
    legacy_user(username="alice", email="alice@example.com")
    assert log_in(username="alice@example.com", password="wrong") is None
    assert log_in(username="nobody@example.com", password=PASSWORD) is None
    assert log_in(username="alice", password=None) is None


def test_a_username_match_wins_over_another_users_email():
    owner = legacy_user(username="bob", email="bob@example.com")
    squatter = UserFactory(username="carol", email="carol@example.com")
    impostor = UserFactory(username="bob@example.com", email="impostor@example.com")
    assert log_in(username="bob@example.com", password=PASSWORD) == impostor
    assert log_in(username="bob", password=PASSWORD) == owner
    assert log_in(username="carol@example.com", password=PASSWORD) == squatter


def test_inactive_users_cannot_log_in_by_email():
    legacy_user(username="dora", email="dora@example.com", is_active=False)
    assert log_in(username="dora@example.com", password=PASSWORD) is None


def test_the_admin_login_page_takes_an_email(client):
    legacy_user(username="erin", email="erin@example.com", is_staff=True)
    response = client.post(reverse("admin:login"), {"username": "erin@example.com", "password": PASSWORD})
    assert response.status_code == 302 and client.session.get("_auth_user_id")


def test_new_hashes_use_the_old_services_parameters_and_verify_there():
    user = UserFactory(password="a brand new password")
    phc = user.password.removeprefix(ARGON2_PREFIX)
    hasher = argon2.PasswordHasher()
    assert hasher.verify(phc, "a brand new password")
    # The old service's cost parameters; only the salt is longer (Django's 22 characters, argon2-cffi's 16 bytes).
    made = argon2.extract_parameters(phc)
    assert (made.type, made.time_cost, made.memory_cost, made.parallelism, made.hash_len) == (
        hasher.type,
        hasher.time_cost,
        hasher.memory_cost,
        hasher.parallelism,
        hasher.hash_len,
    )
