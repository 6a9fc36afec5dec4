from django.db import migrations, models

import gova.db


class Migration(migrations.Migration):
    initial = True
    dependencies = [("moderation", "0003_action_events_updated_at_trigger")]
    operations = [
        migrations.CreateModel(
            name="Tag",
            fields=[
                (
                    "tag_id",
                    models.UUIDField(
                        db_default=gova.db.UUIDv7(),
                        default=gova.db.uuid7,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("label", models.CharField(default="", max_length=100)),
            ],
        ),
    ]
