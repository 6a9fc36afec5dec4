from django.db import migrations

from dbops.operations import RunSQLVersions

# One evaluation in one statement (moderation.services.evaluation_event_record). A function because the
# per-author lock must be granted *before* the INSERT reads the author's history: in READ COMMITTED each statement
# of a plpgsql function takes a new snapshot, so the INSERT sees what the writer it waited for committed. Called
# in autocommit it is one round trip, where BEGIN + lock + INSERT + COMMIT in a pipeline measured 2.3x a plain
# INSERT. The batch path (moderation.ingest.INSERT_SQL) computes the same score set-based.
DROP = "DROP FUNCTION IF EXISTS evaluation_event_insert(uuid, uuid, text, float8, jsonb, vector, timestamptz, bigint)"


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0014_remove_evaluation_mod_user_idx"),
    ]

    operations = [
        # A function: no row or value changes either way.
        RunSQLVersions(
            "moderation", {"evaluation_event_insert": 1}, reverse_sql=DROP, destroys=(), reverse_destroys=()
        ),
    ]
