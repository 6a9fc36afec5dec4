from django.db import migrations, models

import gova.db


class Migration(migrations.Migration):
    initial = True
    dependencies = [("moderation", "0001_initial")]
    operations = [
        migrations.CreateModel(
            name="ActionShadow",
            fields=[
                (
                    "action_id",
                    models.UUIDField(
                        db_default=gova.db.UUIDv7(),
                        default=gova.db.uuid7,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("status", models.CharField(max_length=32)),
            ],
            options={"db_table": "action_events", "managed": False},
        ),
    ]
