import json
from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from accounts import legacy_formats
from accounts.fields import DecryptionError
from accounts.legacy_formats import FORMATS_VARIABLE, LEGACY_KEY_VARIABLE
from accounts.models import User

# Another writer may change a row between the read and the write; each retry re-reads it.
MAX_ATTEMPTS_PER_ROW = 5
SWITCHING_DOCS = "docs/switching-from-alembic.md"


class Command(BaseCommand):
    help = (
        "Convert password hashes and OAuth payloads from the old (Alembic) service's formats to this project's, "
        f"once that service is retired and {FORMATS_VARIABLE}=false everywhere: the bare argon2id PHC string "
        "takes Django's `argon2` prefix (nothing is re-hashed), AES-GCM envelopes and plain JSON become Fernet "
        "tokens. --revert converts back to the old service's formats (with "
        f"{FORMATS_VARIABLE}=true). Batches of users, one commit each, beside live writers: a row written "
        "meanwhile is never overwritten. Safe to run again: converted rows are left alone. Payloads nothing "
        "opens are named by user id and left as they are; the command then exits 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Users per transaction (default 500).")
        parser.add_argument(
            "--revert",
            action="store_true",
            help=f"Convert to the old service's formats instead (needs {FORMATS_VARIABLE}=true and its key).",
        )

    def handle(self, *args, batch_size, revert, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1; nothing was changed.")
        _refuse_the_wrong_setting(revert)
        key = legacy_formats.legacy_key()
        if not revert and key is None and (envelopes := _count(ENVELOPES)):
            raise CommandError(
                f"{envelopes} OAuth payload(s) are the old service's AES-GCM envelopes and {LEGACY_KEY_VARIABLE} is "
                "not set; nothing was changed. Set it to the old service's ENCRYPTION_KEY (in the environment or "
                ".env, never on the command line) and run again."
            )
        field = User._meta.get_field("discord_oauth_payload")
        passwords, payloads, unreadable = 0, Counter(), []
        for low, high in _user_ranges(batch_size):
            with transaction.atomic():  # one commit per batch; an interrupted run resumes where it stopped
                for user_id, outcome in _convert_payloads(field, low, high, revert=revert, key=key):
                    payloads[outcome] += 1
                    if outcome == "unreadable":
                        unreadable.append(user_id)
                # Last: the rows it changes stay locked until the commit, and other writers wait for them.
                passwords += _convert_passwords(low, high, revert=revert)
        self._report(passwords, payloads, unreadable, revert=revert)

    def _report(self, passwords: int, payloads: Counter, unreadable: list, *, revert: bool):
        target = "the old service's format" if revert else "Django's format"
        left = _ids(PASSWORDS_LEFT[revert])
        self.stdout.write(f"users.password: {passwords} converted to {target}, {len(left)} left as they are")
        if left:
            reason = (
                "not argon2id: the old service cannot verify them; these users log in here once (a login beside "
                "it rewrites the hash into its format) or reset their password there"
                if revert
                else "a PHC string other than argon2id: these users need a password reset"
            )
            self.stderr.write(f"users.password left as they are ({reason}): {', '.join(left)}")
        self.stdout.write(
            f"users.discord_oauth_payload: {payloads['converted']} converted to {target}, "
            f"{payloads['current']} in it already, {payloads['unreadable']} unreadable"
        )
        for user_id in unreadable:
            self.stderr.write(f"users.discord_oauth_payload: user_id={user_id} cannot be decrypted; left as it is")
        if unreadable:
            raise CommandError(
                f"{len(unreadable)} payload(s) could not be decrypted and were left as they are (ids above). Set the "
                f"key they were written with ({LEGACY_KEY_VARIABLE} for the old service's, FIELD_ENCRYPTION_SALT_KEYS "
                "and DJANGO_SECRET_KEY_FALLBACKS for this project's) and run this again."
            )


def _refuse_the_wrong_setting(revert: bool) -> None:
    if not revert and legacy_formats.writes_legacy_formats():
        raise CommandError(
            f"{FORMATS_VARIABLE}=true: this project still writes the old service's formats, so converting them "
            "would break the old service and be undone by the next write; nothing was changed. Once the old "
            f"service is retired, set {FORMATS_VARIABLE}=false for every process of this project, restart them, "
            f"then run this again ({SWITCHING_DOCS})."
        )
    if revert and not legacy_formats.writes_legacy_formats():
        raise CommandError(
            f"--revert needs {FORMATS_VARIABLE}=true (and {LEGACY_KEY_VARIABLE}): with it false this project goes "
            f"on writing its own formats, which the old service cannot read; nothing was changed. Set it for every "
            f"process of this project, restart them, then run this again ({SWITCHING_DOCS})."
        )


# The old service's envelope is base64 of a JSON object, so it starts with "eyJ" ('{"'); a Fernet token
# starts with "gAAAAA", plain JSON with "{".
ENVELOPES = "SELECT count(*) FROM users WHERE discord_oauth_payload LIKE 'eyJ%'"
# Hashes the target side cannot read, by direction (revert: the old service reads only argon2id PHC strings;
# Django's unusable-password marker "!..." stays unusable there too).
PASSWORDS_LEFT = {
    False: "SELECT user_id::text FROM users WHERE password LIKE '$%' ORDER BY user_id",
    True: "SELECT user_id::text FROM users WHERE password NOT LIKE '$argon2id$%' AND password NOT LIKE '!%' "
    "ORDER BY user_id",
}


def _user_ranges(batch_size: int):
    """(low, high] ranges of user ids holding `batch_size` users each, in key order (keyset paging: every
    batch costs the same however many rows came before)."""
    low = None
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT user_id FROM (SELECT user_id FROM users "
                + ("WHERE user_id > %s " if low else "")
                + "ORDER BY user_id LIMIT %s) batch ORDER BY user_id DESC LIMIT 1",
                [low, batch_size] if low else [batch_size],
            )
            row = cursor.fetchone()
        if row is None:
            return
        high = row[0]
        yield low, high
        low = high


def _in_range(low) -> str:
    return ("user_id > %s AND " if low else "") + "user_id <= %s"


def _convert_passwords(low, high, *, revert: bool) -> int:
    """Prefix added (or removed) in SQL on the row as it is when updated: a hash written meanwhile is either
    converted as it now stands or, in the other format already, left alone."""
    if revert:
        change, pattern = "substr(password, 7)", legacy_formats.DJANGO_HASH_PREFIX + "%"
    else:
        change, pattern = (
            f"'{legacy_formats.DJANGO_ARGON2_PREFIX}' || password",
            legacy_formats.LEGACY_HASH_PREFIX + "%",
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE users SET password = {change} WHERE {_in_range(low)} AND password LIKE %s",
            [*([low] if low else []), high, pattern],
        )
        return cursor.rowcount


def _convert_payloads(field, low, high, *, revert: bool, key):
    """(user id, "converted" | "current" | "unreadable") for each payload in the range."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT user_id, discord_oauth_payload FROM users WHERE {_in_range(low)} "
            "AND discord_oauth_payload IS NOT NULL ORDER BY user_id",
            [*([low] if low else []), high],
        )
        rows = cursor.fetchall()
    for user_id, token in rows:
        yield user_id, _convert_row(field, user_id, token, revert=revert, key=key)


def _convert_row(field, user_id, token, *, revert: bool, key) -> str:
    """The write is conditional on the stored value being the one read, so a payload another connection wrote in
    between is never overwritten with the old one: it is read again."""
    for _ in range(MAX_ATTEMPTS_PER_ROW):
        if token is None:
            return "current"  # cleared meanwhile
        ours = field.stored_format(token) == "fernet"
        if ours != revert:
            return "current"  # in the target format already (plain JSON counts as the old service's)
        try:
            document = json.loads(field.decrypt(token, owner=user_id))
        except DecryptionError:
            return "unreadable"
        if revert:
            converted = legacy_formats.payload_seal(document, user_id=str(user_id), key=key)
        else:
            converted = field.encrypt(json.dumps(document, separators=(",", ":")))
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE users SET discord_oauth_payload = %s WHERE user_id = %s AND discord_oauth_payload = %s",
                [converted, user_id, token],
            )
            if cursor.rowcount == 1:
                return "converted"
            cursor.execute("SELECT discord_oauth_payload FROM users WHERE user_id = %s", [user_id])
            row = cursor.fetchone()
        token = row[0] if row else None
    raise CommandError(f"users {user_id}: changed by another writer {MAX_ATTEMPTS_PER_ROW} times in a row")


def _count(sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def _ids(sql: str) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]
