"""A test-only app (installed by tests/dbops/test_rerunnable_index.py): its 0002 builds an index concurrently."""

from django.db import models

from gova.db import uuid7_primary_key


class Item(models.Model):
    item_id = uuid7_primary_key()
    label = models.CharField(max_length=100, default="")

    class Meta:
        app_label = "indexapp"
        indexes = [models.Index(fields=["label"], name="indexapp_item_label_idx")]

    def __str__(self) -> str:
        return self.label
