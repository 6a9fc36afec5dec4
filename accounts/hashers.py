"""Argon2id with the old service's parameters, so a hash stays readable by both services during a switch."""

import argon2
from django.contrib.auth.hashers import Argon2PasswordHasher, must_update_salt


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
