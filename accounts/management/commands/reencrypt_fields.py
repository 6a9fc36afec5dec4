from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, models, transaction
from django.db.models.functions import Cast

from accounts.fields import DecryptionError, encrypted_fields

# Another writer may change a row between the read and the write; each retry re-reads it.
MAX_ATTEMPTS_PER_ROW = 5


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field with the current key (the first salt in "
        "FIELD_ENCRYPTION_SALT_KEYS with DJANGO_SECRET_KEY). Run after a key rotation, then drop the old keys. "
        "Safe beside live writers and safe to run again: rows already under the current key are left alone. "
        "Rows no configured key opens are reported by id and left as they are; the command then exits 1. "
        "Payloads in the old service's formats are left to convert_legacy_formats."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size, **options):
        unreadable = 0
        for field in encrypted_fields():
            label = f"{field.model._meta.label}.{field.name}"
            outcomes = Counter()
            for batch in _token_batches(field, batch_size):
                with transaction.atomic():  # one commit per batch; an interrupted run resumes where it stopped
                    batch_outcomes = [(pk, _reencrypt_row(field, pk, token)) for pk, token in batch]
                for pk, outcome in batch_outcomes:
                    outcomes[outcome] += 1
                    if outcome == "unreadable":
                        self.stderr.write(
                            f"{label}: {field.model._meta.pk.name}={pk} cannot be decrypted with the configured keys; "
                            "left as it is"
                        )
            unreadable += outcomes["unreadable"]
            self.stdout.write(
                f"{label}: {outcomes['rewritten']} re-encrypted, {outcomes['current']} already under the current key, "
                f"{outcomes['legacy']} in the old service's formats (left as they are), "
                f"{outcomes['unreadable']} unreadable"
            )
        if unreadable:
            raise CommandError(
                f"{unreadable} row(s) could not be decrypted and were left as they are (ids above). Add the key they "
                "were written with to DJANGO_SECRET_KEY_FALLBACKS or FIELD_ENCRYPTION_SALT_KEYS and run this again."
            )


def _reencrypt_row(field, pk, token) -> str:
    """'rewritten', 'current' (already under the first key, or changed to NULL or deleted meanwhile),
    'legacy' (the old service's envelope or plain JSON: no Fernet token to rotate) or 'unreadable'. The
    write is conditional on the stored token being the one read, so a payload another connection wrote
    in between is never overwritten with the old one: it is read again."""
    for _ in range(MAX_ATTEMPTS_PER_ROW):
        if token is None or field.is_current(token):
            return "current"
        if field.stored_format(token) != "fernet":
            return "legacy"
        try:
            rotated = field.rotate(token)
        except DecryptionError:
            return "unreadable"
        if _replace_token(field, pk, old=token, new=rotated):
            return "rewritten"
        token = _stored_token(field, pk)
    raise CommandError(
        f"{field.model._meta.label} {pk}: changed by another writer {MAX_ATTEMPTS_PER_ROW} times in a row"
    )


def _replace_token(field, pk, *, old: str, new: str) -> bool:
    quote = connection.ops.quote_name
    table, column, pk_column = field.model._meta.db_table, field.column, field.model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE {quote(pk_column)} = %s AND {quote(column)} = %s",
            [new, pk, old],
        )
        return cursor.rowcount == 1


def _tokens(field):
    """The stored tokens; the Cast keeps the ORM from decrypting what is only re-keyed."""
    return field.model._base_manager.annotate(token=Cast(field.attname, models.CharField()))


def _stored_token(field, pk):
    return _tokens(field).filter(pk=pk).values_list("token", flat=True).first()


def _token_batches(field, batch_size):
    """(pk, stored token) pairs in key order."""
    rows = _tokens(field).filter(**{f"{field.attname}__isnull": False}).values_list("pk", "token").order_by("pk")
    batch = []
    for row in rows.iterator(chunk_size=batch_size):
        batch.append(row)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
