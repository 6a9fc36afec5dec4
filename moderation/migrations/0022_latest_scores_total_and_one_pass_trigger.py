from django.db import migrations

from dbops.operations import EventTableSQL, RunSQLVersions

# evaluation_latest_scores keeps each author's window total (0021's column) for every writer, and its insert
# trigger does the common case in one pass.
#
# The refresh (late rows, UPDATE, DELETE, authors that cannot be inserted directly) sums the window it reads. The
# insert trigger groups the new rows by author once, and one UPDATE appends them to every author whose stored
# latest row is older than all of them: the total gains the new severities and loses those that leave the window
# (0017 looked every author up twice: once to find those to re-read, once to append). Only when some author was
# not appended does a second statement run: an author with no events older than its new rows gets them as its
# window, inserted directly (0017 read them back from the events). A stored row met there (another writer's first
# row for the author, committed meanwhile, or rows older than the stored latest) and older events without a stored
# row (events loaded with triggers off) send the author to evaluation_latest_scores_refresh, as 0017 did.
#
# The batch ingest statement (moderation.ingest.INSERT_SQL) does this for its own rows and, when it kept every
# author, sets `gova.latest_scores_kept` to its smallest key and row count: a statement whose rows match returns
# at once. Any other statement, in the same transaction or not, does not match and is kept as above.

# Every stored window's total (0021 added them as 0). In the same transaction as the functions above, so from
# its commit on every writer keeps totals that start right.
FILL_TOTALS = """
UPDATE evaluation_latest_scores SET recent_total = (SELECT coalesce(sum(x), 0) FROM unnest(recent_severities) x)
"""


class Migration(migrations.Migration):
    """evaluation_latest_scores keeps window totals; its insert trigger looks each author up once (none for a batch
    the ingest statement kept itself)."""

    dependencies = [
        ("moderation", "0021_latest_scores_recent_total"),
    ]

    operations = [
        # Function bodies (backwards, 0017's versions): no event row or value changes either way.
        RunSQLVersions("moderation", {"evaluation_latest_scores_refresh": 2}, destroys=(), reverse_destroys=()),
        RunSQLVersions("moderation", {"evaluation_latest_scores_after_insert": 2}, destroys=(), reverse_destroys=()),
        # Derived values in the derived table; backwards the column goes with 0021's reverse.
        EventTableSQL(sql=FILL_TOTALS, reverse_sql=migrations.RunSQL.noop, destroys=(), reverse_destroys=()),
    ]
