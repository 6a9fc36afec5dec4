from django.db import migrations

from dbops.operations import RunSQLVersions


# evaluation_latest_scores_refresh (late rows, UPDATE, DELETE; called by the triggers of 0017/0022) reads the
# authors' windows only once it holds their stored rows, so that no writer appends to one between its read and
# its write.
#
# 0022's refresh read first and wrote second. A writer appending to the author meanwhile held the stored row; the
# refresh waited for it at its write, and then either kept the newer stored row, which lacked the refresh's own
# rows (an INSERT's late row left out of the window), or overwrote it with what it had read, which lacked the
# other writer's (a DELETE's or UPDATE's refresh). Now, each step a statement of its own with a fresh snapshot:
#   1. the authors' stored rows are locked, in key order, waiting for any writer appending to one to commit;
#   2. only if some author has no stored row: those get one read from the events, in key order (a writer adding
#      rows of the author meanwhile meets the new key and reads the author again after this commits; another
#      writer's row stored first is waited for, left as it is, and locked as in 1);
#   3. the other authors' windows are read, seeing every committed row, and stored: nobody can append meanwhile;
#   4. after an UPDATE or DELETE, authors left with no events lose their row.
# PL/pgSQL rather than SQL, so that the statements' plans are kept for the session and step 2 runs only when some
# author has no stored row: a late row's re-read costs what it did (~2.0 ms for one INSERT at 1M events, where a
# first SQL version of these steps took ~2.8 ms), and so does a re-read of 300 authors at once.
class Migration(migrations.Migration):
    """The latest-scores refresh locks the authors' stored rows before it reads their windows: a writer appending
    at the same moment no longer leaves the refresh's rows, or its own, out of the window."""

    dependencies = [
        ("moderation", "0025_evaluation_event_insert_keeps_window"),
    ]

    operations = [
        # A function body (backwards, 0022's version): no row or value changes either way.
        RunSQLVersions("moderation", {"evaluation_latest_scores_refresh": 3}, destroys=(), reverse_destroys=()),
    ]
