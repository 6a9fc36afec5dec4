from django.db import migrations

from dbops.operations import RunSQLVersions

# evaluation_latest_scores follows evaluation_events for every writer. Statement-level triggers with transition
# tables: one set-based pass per INSERT/UPDATE/DELETE statement, not one per row (a batch of 1,000 events costs
# one UPDATE of its authors).
#
# INSERT: an author whose new rows all come after the stored latest row gets them appended to its window (the
# common case: the ingest paths write each author's events in time order under a per-author lock). An author
# seen for the first time, or given a row older than the stored latest (a backfill, a late writer), is read
# again from the events through evaluation_mod_user_scores_idx. DELETE and UPDATE re-read the affected authors
# and drop those with no rows left; TRUNCATE empties the table.
DROP = """
DROP TRIGGER IF EXISTS evaluation_latest_scores_insert ON evaluation_events;
DROP TRIGGER IF EXISTS evaluation_latest_scores_update ON evaluation_events;
DROP TRIGGER IF EXISTS evaluation_latest_scores_delete ON evaluation_events;
DROP TRIGGER IF EXISTS evaluation_latest_scores_truncate ON evaluation_events;
DROP FUNCTION IF EXISTS evaluation_latest_scores_after_insert();
DROP FUNCTION IF EXISTS evaluation_latest_scores_after_update();
DROP FUNCTION IF EXISTS evaluation_latest_scores_after_delete();
DROP FUNCTION IF EXISTS evaluation_latest_scores_after_truncate();
DROP FUNCTION IF EXISTS evaluation_latest_scores_refresh(uuid[], text[], boolean);
DROP FUNCTION IF EXISTS evaluation_author_window(uuid, text);
"""


class Migration(migrations.Migration):
    """Triggers that keep evaluation_latest_scores for every writer (a short lock on evaluation_events to add them)."""

    dependencies = [
        ("moderation", "0016_latest_behaviour_scores"),
    ]

    operations = [
        # Triggers and functions: no event row or value changes either way.
        RunSQLVersions(
            "moderation",
            {
                "evaluation_author_window": 1,
                "evaluation_latest_scores_refresh": 1,
                "evaluation_latest_scores_after_insert": 1,
                "evaluation_latest_scores_after_update": 1,
                "evaluation_latest_scores_after_delete": 1,
                "evaluation_latest_scores_after_truncate": 1,
                "evaluation_latest_scores_insert": 1,
                "evaluation_latest_scores_update": 1,
                "evaluation_latest_scores_delete": 1,
                "evaluation_latest_scores_truncate": 1,
            },
            reverse_sql=DROP,
            destroys=(),
            reverse_destroys=(),
        ),
    ]
