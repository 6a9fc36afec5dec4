from django.contrib.postgres.operations import RemoveIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    """evaluation_mod_user_scores_idx (0013) has the same keys and serves every query this one did."""

    atomic = False

    dependencies = [
        ("moderation", "0013_evaluation_mod_user_scores_idx"),
    ]

    operations = [
        RemoveIndexConcurrently(model_name="evaluationevent", name="evaluation_mod_user_idx"),
    ]
