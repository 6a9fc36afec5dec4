from django.db import migrations

from dbops.operations import EventTableSQL

# Each author's latest row and window from what is already stored: one descent of evaluation_mod_user_scores_idx
# per author (a few seconds at 1M events). The triggers (0017) are already in place, and a writer whose author
# has no row yet reads that author's window from the events itself; so a row written meanwhile is never missed,
# and the fill only adds authors nobody has stored yet (DO NOTHING).
FILL = """
INSERT INTO evaluation_latest_scores
    (moderator_id, platform_user_id, event_id, behaviour_score, created_at, recent_severities)
SELECT a.moderator_id, a.platform_user_id, w.event_id, w.behaviour_score, w.created_at, w.recent_severities
FROM (SELECT DISTINCT moderator_id, platform_user_id FROM evaluation_events) a
CROSS JOIN LATERAL evaluation_author_window(a.moderator_id, a.platform_user_id) w
ON CONFLICT (moderator_id, platform_user_id) DO NOTHING
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
