from django.db import migrations, models

import gova.db


class Migration(migrations.Migration):
    initial = True
    dependencies = [("dbops", "0001_enable_vector_and_uuidv7")]
    operations = [
        migrations.CreateModel(
            name="Item",
            fields=[
                (
                    "item_id",
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
