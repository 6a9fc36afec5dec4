"""A test-only app (installed by tests/dbops with override_settings) whose migrations touch the event tables."""

from django.db import models

from gova.db import uuid7_primary_key


class Note(models.Model):
    note_id = uuid7_primary_key()
    text = models.CharField(max_length=100, default="")

    class Meta:
        app_label = "riskyapp"

    def __str__(self) -> str:
        return self.text
