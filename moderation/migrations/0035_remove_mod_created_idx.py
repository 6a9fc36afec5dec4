from django.contrib.postgres.operations import RemoveIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    """(moderator, created_at) is a prefix of the (moderator, created_at, key) indexes of 0028, which serve every
    query these did (per-moderator lists, counts per day, the moderator foreign key) and break ties by key.
    Reversed, both are built again concurrently."""

    atomic = False

    dependencies = [
        ("moderation", "0034_evaluation_events_refold_trigger"),
    ]

    operations = [
        RemoveIndexConcurrently(model_name="evaluationevent", name="evaluation_mod_created_idx"),
        RemoveIndexConcurrently(model_name="actionevent", name="action_mod_created_idx"),
    ]
