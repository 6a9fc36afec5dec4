from django.db import migrations, models

import gova.db


class Migration(migrations.Migration):
    initial = True
    dependencies = [("moderation", "0002_foreign_keys_on_delete_cascade")]
    operations = [
        migrations.CreateModel(
            name="Note",
            fields=[
                (
                    "note_id",
                    models.UUIDField(
                        db_default=gova.db.UUIDv7(),
                        default=gova.db.uuid7,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("text", models.CharField(default="", max_length=100)),
            ],
        ),
    ]
