"""The old service's password hashes and Django's differ by a prefix: converted both ways without a password."""

import argon2
from django.contrib.auth.hashers import check_password, make_password

from takeover.legacy_formats import password_to_django, password_to_legacy

PASSWORD = "correct horse battery"


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
