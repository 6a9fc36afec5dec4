import django.db.models.deletion
import django.db.models.functions.datetime
from django.db import migrations, models

import gova.db


class Migration(migrations.Migration):
    initial = True
    dependencies = [("moderation", "0003_action_events_updated_at_trigger")]
    operations = [
        migrations.CreateModel(
            name="StallEvent",
            fields=[
                (
                    "event_id",
                    models.UUIDField(
                        db_default=gova.db.UUIDv7(),
                        default=gova.db.uuid7,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("platform_user_id", models.CharField()),
                ("severity_score", models.FloatField()),
                ("behaviour_score", models.FloatField(db_default=0.0)),
                ("context", models.JSONField()),
                ("created_at", models.DateTimeField(db_default=django.db.models.functions.datetime.Now())),
                (
                    "moderator",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        to="moderation.moderator",
                    ),
                ),
            ],
            options={
                "db_table": "bench_stall_events",
                "indexes": [
                    models.Index(fields=["moderator", "created_at"], name="stall_mod_created_idx"),
                    models.Index(fields=["moderator", "platform_user_id", "created_at"], name="stall_mod_user_idx"),
                ],
            },
        ),
    ]
