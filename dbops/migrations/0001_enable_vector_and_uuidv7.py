from django.db import migrations

import dbops.operations


class Migration(migrations.Migration):
    """The first migration to run: every table after it may use vectors and uuidv7() keys."""

    initial = True
    dependencies = []
    run_before = [
        ("contenttypes", "0001_initial"),
        ("auth", "0001_initial"),
    ]
    operations = [
        dbops.operations.EnableVector(),
        dbops.operations.CreateUUIDv7Function(),
    ]
