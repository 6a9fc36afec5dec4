from django.core.management.base import BaseCommand
from django.db import models, transaction
from django.db.models.functions import Cast

from accounts.fields import encrypted_fields


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted field with the current key (the first salt in "
        "FIELD_ENCRYPTION_SALT_KEYS with DJANGO_SECRET_KEY). Run after a key rotation, then drop the old keys."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args, batch_size, **options):
        for field in encrypted_fields():
            rewritten = 0
            for batch in _token_batches(field, batch_size):
                with transaction.atomic():
                    for pk, token in batch:
                        # A Value with its own output_field skips the field's encryption.
                        field.model._base_manager.filter(pk=pk).update(
                            **{field.attname: models.Value(field.rotate(token), output_field=models.CharField())}
                        )
                rewritten += len(batch)
            self.stdout.write(f"{field.model._meta.label}.{field.name}: {rewritten} re-encrypted")


def _token_batches(field, batch_size):
    """(pk, stored token) pairs; the Cast keeps the ORM from decrypting what is only re-keyed."""
    rows = (
        field.model._base_manager.filter(**{f"{field.attname}__isnull": False})
        .annotate(token=Cast(field.attname, models.CharField()))
        .values_list("pk", "token")
        .order_by("pk")
    )
    batch = []
    for row in rows.iterator(chunk_size=batch_size):
        batch.append(row)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
