from django.db import migrations

import dbops.operations


class Migration(migrations.Migration):
    """ON DELETE CASCADE in the database, as in the original schema, for writers other than Django.

    action_events.evaluation_id keeps NO ACTION: the original has no rule there.
    """

    dependencies = [
        ("moderation", "0001_initial"),
    ]

    operations = [
        dbops.operations.SetForeignKeyOnDelete(model_name="moderator", name="user", on_delete="CASCADE"),
        dbops.operations.SetForeignKeyOnDelete(model_name="evaluationevent", name="moderator", on_delete="CASCADE"),
        dbops.operations.SetForeignKeyOnDelete(model_name="actionevent", name="moderator", on_delete="CASCADE"),
    ]
