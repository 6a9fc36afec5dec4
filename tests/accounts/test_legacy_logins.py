"""Users of the old service log in here with their old passwords, by email or username, and every hash this
project writes stays one the old service can verify once `adopt_alembic_db --revert` has run."""

import argon2
import pytest
from django.contrib.auth import authenticate

from accounts.legacy import password_to_django, password_to_legacy
from accounts.models import User
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


def legacy_user(**fields) -> User:
    """A user as adoption leaves them: the old service's PHC hash behind Django's prefix."""
    user = UserFactory(**fields)
    User.objects.filter(pk=user.pk).update(password=password_to_django(argon2.PasswordHasher().hash(PASSWORD)))
    return User.objects.get(pk=user.pk)


def test_a_legacy_user_logs_in_by_email_and_by_username_without_a_rehash():
    user = legacy_user(username="alice", email="alice@example.com")
    assert authenticate(username="alice@example.com", password=PASSWORD) == user
    assert authenticate(username="alice", password=PASSWORD) == user
    assert authenticate(email="alice@example.com", password=PASSWORD) == user
    # Same parameters as argon2-cffi's defaults: the stored hash is left alone.
    assert User.objects.get(pk=user.pk).password == user.password


def test_wrong_passwords_and_unknown_logins_are_refused():
    legacy_user(username="alice", email="alice@example.com")
    assert authenticate(username="alice@example.com", password="wrong") is None
    assert authenticate(username="nobody@example.com", password=PASSWORD) is None
    assert authenticate(username="alice", password=None) is None


def test_a_username_match_wins_over_another_users_email():
    owner = legacy_user(username="bob", email="bob@example.com")
    squatter = UserFactory(username="carol", email="carol@example.com")
    impostor = UserFactory(username="bob@example.com", email="impostor@example.com")
    assert authenticate(username="bob@example.com", password=PASSWORD) == impostor
    assert authenticate(username="bob", password=PASSWORD) == owner
    assert authenticate(username="carol@example.com", password=PASSWORD) == squatter


def test_inactive_users_cannot_log_in_by_email():
    legacy_user(username="dora", email="dora@example.com", is_active=False)
    assert authenticate(username="dora@example.com", password=PASSWORD) is None


def test_the_test_client_logs_in_by_email(client):
    legacy_user(username="erin", email="erin@example.com")
    assert client.login(username="erin@example.com", password=PASSWORD)


def test_new_hashes_use_the_old_services_parameters_and_verify_there():
    user = UserFactory(password="a brand new password")
    phc = password_to_legacy(user.password)
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
