from django.db import migrations

import dbops.operations


class Migration(migrations.Migration):
    """users.updated_at moves on for every writer, not only Django's save()."""

    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        dbops.operations.MaintainUpdatedAt(model_name="user"),
    ]
