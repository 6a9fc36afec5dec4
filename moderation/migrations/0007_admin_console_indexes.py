from django.db import migrations, models

from dbops.operations import RerunnableAddIndexConcurrently


class Migration(migrations.Migration):
    """Indexes the admin console reads through: the review queue and searches by platform user id."""

    atomic = False  # CREATE INDEX CONCURRENTLY: event tables keep taking writes during the build

    dependencies = [
        ("moderation", "0006_reviewers_group"),
    ]

    operations = [
        RerunnableAddIndexConcurrently(
            model_name="actionevent",
            index=models.Index(
                condition=models.Q(("status", "awaiting_approval")),
                fields=["created_at"],
                name="action_awaiting_created_idx",
            ),
        ),
        RerunnableAddIndexConcurrently(
            model_name="actionevent",
            index=models.Index(fields=["platform_user_id"], name="action_user_idx"),
        ),
        RerunnableAddIndexConcurrently(
            model_name="evaluationevent",
            index=models.Index(fields=["platform_user_id"], name="evaluation_user_idx"),
        ),
    ]
