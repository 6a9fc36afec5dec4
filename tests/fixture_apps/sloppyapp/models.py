"""A test-only app whose migrations break each convention of dbops/conventions.py once. Never migrated."""

from django.db import models

from gova.db import uuid7_primary_key


class Tag(models.Model):
    tag_id = uuid7_primary_key()
    title = models.CharField(max_length=100, default="")

    class Meta:
        app_label = "sloppyapp"

    def __str__(self) -> str:
        return self.title
