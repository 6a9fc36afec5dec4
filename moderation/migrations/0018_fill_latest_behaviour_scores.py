from django.db import migrations

from dbops.operations import EventTableSQL

# Each author's latest row from what is already stored: one backward index-only walk of
# evaluation_mod_user_scores_idx (a few seconds at 1M events). The triggers (0017) are already in place, so a
# writer running meanwhile is not missed, and the upsert keeps whichever row is newer: the backfill never
# overwrites a newer row a trigger stored.
FILL = """
INSERT INTO evaluation_latest_scores AS s (moderator_id, platform_user_id, event_id, behaviour_score, created_at)
SELECT DISTINCT ON (moderator_id, platform_user_id)
       moderator_id, platform_user_id, event_id, behaviour_score, created_at
FROM evaluation_events
ORDER BY moderator_id DESC, platform_user_id DESC, created_at DESC, event_id DESC
ON CONFLICT (moderator_id, platform_user_id) DO UPDATE
SET event_id = excluded.event_id, behaviour_score = excluded.behaviour_score, created_at = excluded.created_at
WHERE (excluded.created_at, excluded.event_id) > (s.created_at, s.event_id)
"""


class Migration(migrations.Migration):
    """Fill evaluation_latest_scores from the events already stored (a database taken over holds many)."""

    dependencies = [
        ("moderation", "0017_latest_behaviour_scores_triggers"),
    ]

    operations = [
        # Reads evaluation_events, writes only the new table; backwards there is nothing to undo (0016's reverse
        # drops the table).
        EventTableSQL(sql=FILL, reverse_sql=migrations.RunSQL.noop, destroys=(), reverse_destroys=()),
    ]
