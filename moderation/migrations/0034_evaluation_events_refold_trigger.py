from django.db import migrations

from dbops.operations import RunSQLVersions


class Migration(migrations.Migration):
    """A new embedding written by UPDATE sends its row back to the tail (inserts never fire it): see
    moderation/sql/evaluation_events_refold/v1.sql."""

    dependencies = [
        ("moderation", "0033_vectorindexpart_remove_key_range"),
    ]

    operations = [
        # A function and a trigger: no event row or value changes either way.
        RunSQLVersions(
            "moderation",
            {"evaluation_events_refold": 1, "evaluation_events_refold_trigger": 1},
            reverse_sql="DROP TRIGGER evaluation_events_refold_trigger ON evaluation_events; "
            "DROP FUNCTION evaluation_events_refold()",
            destroys=(),
            reverse_destroys=(),
        ),
    ]
