import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Drop the index Django made for evaluation_latest_scores.moderator_id: the primary key (moderator_id,
    platform_user_id) and the board index (moderator_id, behaviour_score, ...) both lead with it, so no query
    needed it, and every batch paid for it: each author's row is updated once per batch and a non-HOT update
    inserts into every index (~4 ms of a 1,000-row batch at 1M events). The reverse builds it again.
    """

    dependencies = [
        ("moderation", "0023_evaluation_events_toast_tuple_target"),
    ]

    operations = [
        migrations.AlterField(
            model_name="latestbehaviourscore",
            name="moderator",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="moderation.moderator",
            ),
        ),
    ]
