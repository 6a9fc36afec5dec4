"""A test-only app for check_migrations: its migration indexes an event table with Django's AddIndexConcurrently."""

from django.db import models

from gova.db import uuid7_primary_key


class ActionShadow(models.Model):
    action_id = uuid7_primary_key()
    status = models.CharField(max_length=32)

    class Meta:
        app_label = "plainindexapp"
        db_table = "action_events"
        managed = False
        indexes = [models.Index(fields=["status"], name="plainindex_status_idx")]

    def __str__(self) -> str:
        return self.status
