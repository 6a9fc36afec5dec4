"""The admin login locks a username, and an address, after GOVA_LOGIN_FAILURE_LIMIT failures (django-axes)."""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from tests.factories import UserFactory

PASSWORD = "correct horse battery"  # UserFactory's
LOGIN = reverse("admin:login")


@pytest.fixture(autouse=True)
def cheap_hashing(settings):
    # What is under test is the count of attempts, not Argon2 (~0.5 s a guess here).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", is_staff=True, is_superuser=True)


def log_in(client, username, password, address):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address)


def fail_limit_times(client, usernames, addresses):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        response = log_in(client, usernames[attempt % len(usernames)], "wrong", addresses[attempt % len(addresses)])
        assert response.status_code in (200, 429)  # the form again, then the lock-out page at the limit


def test_failures_on_one_username_from_many_addresses_lock_the_username(client, alice):
    assert settings.AXES_FAILURE_LIMIT == 5
    fail_limit_times(client, ["alice"], [f"10.0.0.{n}" for n in range(1, 6)])
    assert log_in(client, "alice", PASSWORD, "10.0.1.1").status_code == 429  # the right password, refused
    call_command("axes_reset_username", "alice", stdout=open("/dev/null", "w"))
    assert log_in(client, "alice", PASSWORD, "10.0.1.1").status_code == 302


def test_failures_from_one_address_on_many_usernames_lock_the_address(client, alice):
    UserFactory(username="bob", is_staff=True)
    fail_limit_times(client, [f"guess{n}" for n in range(5)], ["10.0.2.1"])
    assert log_in(client, "bob", PASSWORD, "10.0.2.1").status_code == 429
    assert log_in(client, "bob", PASSWORD, "10.0.2.2").status_code == 302  # another address is not locked
    call_command("axes_reset_ip", "10.0.2.1", stdout=open("/dev/null", "w"))
    assert log_in(client, "alice", PASSWORD, "10.0.2.1").status_code == 302


def test_a_success_before_the_limit_starts_the_count_again(client, alice):
    for _ in range(2):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert log_in(client, "alice", "wrong", "10.0.3.1").status_code == 200
        assert log_in(client, "alice", PASSWORD, "10.0.3.1").status_code == 302
        client.logout()


def test_behind_a_proxy_the_configured_header_names_the_client(client, alice, settings):
    settings.GOVA_CLIENT_IP_HEADER = "HTTP_X_REAL_IP"
    proxy = "10.0.4.1"
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "mallory", "password": "x"}, REMOTE_ADDR=proxy, HTTP_X_REAL_IP="203.0.113.9")
    response = client.post(
        LOGIN,
        {"username": "alice", "password": PASSWORD, "next": "/admin/"},
        REMOTE_ADDR=proxy,
        HTTP_X_REAL_IP="198.51.100.7",
    )
    assert response.status_code == 302  # the attacker's address is locked, not the proxy's
