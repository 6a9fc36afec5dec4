from django.db import migrations

from dbops.operations import EventTableSQL

# An UPDATE that writes a new embedding takes the next fold_seq, so the row moves to the unfolded tail and
# fold_embeddings puts it into a graph with the rest, in bulk. Left where it was, the row would be inserted into
# its part's graph by the UPDATE itself (~7 ms a row at 1024 dimensions): a backfill of embeddings onto rows
# already folded, or onto the rows stored before fold_seq, would run at ~140 rows/s.
FUNCTION = """
CREATE FUNCTION evaluation_events_refold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.fold_seq := nextval('evaluation_events_fold_seq');
    RETURN NEW;
END $$;
"""
TRIGGER = """
CREATE TRIGGER evaluation_events_refold BEFORE UPDATE OF embedding ON evaluation_events
FOR EACH ROW WHEN (NEW.embedding IS NOT NULL AND NEW.embedding IS DISTINCT FROM OLD.embedding)
EXECUTE FUNCTION evaluation_events_refold();
"""


class Migration(migrations.Migration):
    """A new embedding written by UPDATE sends its row back to the tail (inserts never fire it)."""

    dependencies = [
        ("moderation", "0033_vectorindexpart_remove_key_range"),
    ]

    operations = [
        EventTableSQL(
            sql=FUNCTION + TRIGGER,
            reverse_sql="DROP TRIGGER evaluation_events_refold ON evaluation_events; "
            "DROP FUNCTION evaluation_events_refold()",
            destroys=(),
            reverse_destroys=(),
        ),
    ]
