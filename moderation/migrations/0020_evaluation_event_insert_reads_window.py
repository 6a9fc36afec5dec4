from django.db import migrations

from dbops.operations import RunSQLVersions


# evaluation_event_insert() reads the author's last severities from evaluation_latest_scores (one key lookup)
# instead of the author's last 99 rows, and averages them in hundredths, as the batch path does
# (moderation.ingest.INSERT_SQL): both give the same score, rounded half up exactly. Same signature as 0015's.
class Migration(migrations.Migration):
    """One-event recording reads the author's window from evaluation_latest_scores."""

    dependencies = [
        ("moderation", "0019_embedding_storage_main"),
    ]

    operations = [
        # A function body (backwards, 0015's version): no row or value changes either way.
        RunSQLVersions("moderation", {"evaluation_event_insert": 2}, destroys=(), reverse_destroys=()),
    ]
