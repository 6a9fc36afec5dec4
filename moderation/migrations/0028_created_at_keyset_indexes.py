from django.db import migrations, models

from dbops.operations import RerunnableAddIndexConcurrently


class Migration(migrations.Migration):
    """Indexes for lists by time with the key as a tie-break, whatever kind of key a row has.

    The old service keys evaluation and action events with uuid4 (random bits), so the primary key's order is not
    time order. The admin's lists and their "older" keyset pages order by (created_at, key), newest first: these
    indexes are read backwards from a row comparison `(created_at, key) < (t, k)`, with no sort at any depth.
    The per-moderator ones replace (moderator, created_at), which migration 0030 drops.
    """

    atomic = False  # CREATE INDEX CONCURRENTLY: event tables keep taking writes during the build

    dependencies = [
        ("moderation", "0027_behaviour_score_rule_functions"),
    ]

    operations = [
        RerunnableAddIndexConcurrently(
            model_name="evaluationevent",
            index=models.Index(fields=["created_at", "event_id"], name="evaluation_created_key_idx"),
        ),
        RerunnableAddIndexConcurrently(
            model_name="evaluationevent",
            index=models.Index(fields=["moderator", "created_at", "event_id"], name="evaluation_mod_created_key_idx"),
        ),
        RerunnableAddIndexConcurrently(
            model_name="actionevent",
            index=models.Index(fields=["created_at", "action_id"], name="action_created_key_idx"),
        ),
        RerunnableAddIndexConcurrently(
            model_name="actionevent",
            index=models.Index(fields=["moderator", "created_at", "action_id"], name="action_mod_created_key_idx"),
        ),
    ]
