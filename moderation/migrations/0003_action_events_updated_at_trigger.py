from django.db import migrations

import dbops.operations


class Migration(migrations.Migration):
    """action_events.updated_at moves on for every writer, not only Django's save()."""

    dependencies = [
        ("moderation", "0002_foreign_keys_on_delete_cascade"),
    ]

    operations = [
        dbops.operations.MaintainUpdatedAt(model_name="actionevent"),
    ]
