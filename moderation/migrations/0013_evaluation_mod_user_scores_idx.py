from django.db import migrations, models

from dbops.operations import RerunnableAddIndexConcurrently


class Migration(migrations.Migration):
    """A covering index for the behaviour-score window and the leaderboard (0014 drops the one it replaces)."""

    atomic = False

    dependencies = [
        ("moderation", "0012_remove_table_wide_hnsw"),
    ]

    operations = [
        RerunnableAddIndexConcurrently(
            model_name="evaluationevent",
            index=models.Index(
                fields=["moderator", "platform_user_id", "created_at"],
                include=["severity_score", "behaviour_score", "event_id"],
                name="evaluation_mod_user_scores_idx",
            ),
        ),
    ]
