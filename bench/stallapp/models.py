"""The benchmark's copy of evaluation_events, and the column and index its migrations add.

Django's migration operations act on models of their own app, so the migrations `make bench` runs live
in this fixture app, on a table with the columns, foreign key and B-tree indexes of evaluation_events
(its HNSW index is left out: the rows carry no embedding, so it would cost an insert nothing).
Installed by bench.settings only; never in the project's INSTALLED_APPS.
"""

from django.db import models
from django.db.models.functions import Now

from gova.db import uuid7_primary_key


class StallEvent(models.Model):
    event_id = uuid7_primary_key()
    moderator = models.ForeignKey("moderation.Moderator", on_delete=models.CASCADE, db_index=False)
    platform_user_id = models.CharField(max_length=None)
    severity_score = models.FloatField()
    behaviour_score = models.FloatField(db_default=0.0)
    context = models.JSONField()
    created_at = models.DateTimeField(db_default=Now())
    # Added by 0004_add_column; indexed by 0005_add_index_concurrently.
    bench_ours = models.BooleanField(null=True)

    class Meta:
        db_table = "bench_stall_events"
        indexes = [
            models.Index(fields=["moderator", "created_at"], name="stall_mod_created_idx"),
            models.Index(fields=["moderator", "platform_user_id", "created_at"], name="stall_mod_user_idx"),
            models.Index(fields=["platform_user_id", "severity_score"], name="bench_ours_idx"),
        ]

    def __str__(self) -> str:
        return str(self.event_id)
