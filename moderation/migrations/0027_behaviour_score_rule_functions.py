from django.db import migrations

from dbops.operations import RunSQLVersions

# The behaviour score's rule in one place of the database: the window size (behaviour_window()), severities in
# hundredths (severity_hundredths()) and the rounded mean (behaviour_score_mean()), each an IMMUTABLE SQL function
# that the planner inlines and folds (no cost per row). The functions that score or keep windows call them instead
# of stating 100, 99 or the rounding themselves, with the same results; so does the batch statement
# (moderation.ingest.INSERT_SQL).
DROP = """
DROP FUNCTION IF EXISTS behaviour_score_mean(numeric, bigint);
DROP FUNCTION IF EXISTS severity_hundredths(float8);
DROP FUNCTION IF EXISTS behaviour_window();
"""


class Migration(migrations.Migration):
    """The behaviour score's window and rounding are defined once, as functions the other functions call."""

    dependencies = [
        ("moderation", "0026_latest_scores_refresh_reads_after_locking"),
    ]

    operations = [
        # Functions: no row or value changes either way.
        RunSQLVersions(
            "moderation",
            {"behaviour_window": 1, "severity_hundredths": 1, "behaviour_score_mean": 1},
            reverse_sql=DROP,
            destroys=(),
            reverse_destroys=(),
        ),
        # Function bodies (backwards, the versions of 0017, 0022 and 0025): no row or value changes either way.
        RunSQLVersions(
            "moderation",
            {"evaluation_author_window": 2, "evaluation_latest_scores_after_insert": 3, "evaluation_event_insert": 4},
            destroys=(),
            reverse_destroys=(),
        ),
    ]
