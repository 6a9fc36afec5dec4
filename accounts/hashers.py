"""Argon2id with the old service's parameters, and the format (the old service's or Django's) hashes are stored in."""

import argon2
from django.contrib.auth.hashers import Argon2PasswordHasher, make_password, must_update_salt

from accounts import legacy_formats


class LegacyParametersArgon2PasswordHasher(Argon2PasswordHasher):
    """Django's Argon2 hasher with argon2-cffi's default cost (t=3, m=64 MiB, p=4), the old service's.

    Django's own defaults (t=2, m=100 MiB, p=8) would rehash every legacy user at their first login and
    give new users hashes the old service verifies but then rehashes on its side. With the same parameters
    a login changes nothing, and `adopt_alembic_db --revert` hands every hash back as the PHC string the
    old service wrote. Same algorithm name as Django's: stored hashes are `argon2$argon2id$...` either way.
    """

    time_cost = argon2.DEFAULT_TIME_COST
    memory_cost = argon2.DEFAULT_MEMORY_COST
    parallelism = argon2.DEFAULT_PARALLELISM

    def must_update(self, encoded):
        decoded = self.decode(encoded)
        wanted = self.params()
        wanted.salt_len = decoded["params"].salt_len
        if decoded["params"] != wanted:
            return True
        salt = decoded["salt"]
        if salt.isascii() and salt.isalnum():
            return must_update_salt(salt, self.salt_entropy)  # a salt Django made: its own entropy rule
        # argon2-cffi's salts are random bytes (16 = 128 bits); Django's rule assumes 62 letters per char.
        return len(salt) * 8 < self.salt_entropy


def make_stored_password(raw_password: str | None) -> str:
    """A hash of `raw_password` in the format the old service verifies with GOVA_LEGACY_FORMATS=true (its bare
    PHC string), Django's otherwise. None gives Django's unusable password either way."""
    if raw_password is not None and legacy_formats.writes_legacy_formats():
        return legacy_formats.legacy_password(raw_password)
    return make_password(raw_password)


def readable_password(stored: str) -> str:
    """`stored` as Django's hashers read it: the old service's bare PHC string behind Django's `argon2` name."""
    return legacy_formats.password_to_django(stored) or stored


def upgraded_password(raw_password: str, stored: str, *, must_update: bool) -> str | None:
    """What a successful login writes in place of `stored`, or None to leave it as it is.

    With GOVA_LEGACY_FORMATS=true the old service's own hashes are never rewritten (it chose their parameters, and
    it verifies them); any other hash becomes one it verifies, by dropping Django's prefix when the parameters
    are right, by re-hashing otherwise. With the setting off, hashes move to Django's format the same way.
    """
    legacy = legacy_formats.is_legacy_password(stored)
    if legacy_formats.writes_legacy_formats():
        if legacy:
            return None
        converted = None if must_update else legacy_formats.password_to_legacy(stored)
        return converted or make_stored_password(raw_password)
    if must_update:
        return make_stored_password(raw_password)
    return legacy_formats.password_to_django(stored) if legacy else None
