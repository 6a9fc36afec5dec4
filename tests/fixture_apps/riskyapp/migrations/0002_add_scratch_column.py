from django.db import migrations

from dbops.operations import EventTableSQL


class Migration(migrations.Migration):
    dependencies = [("riskyapp", "0001_initial")]
    operations = [
        EventTableSQL(
            sql="ALTER TABLE evaluation_events ADD COLUMN scratch integer",
            reverse_sql="ALTER TABLE evaluation_events DROP COLUMN scratch",
            destroys=(),
            # Undoing this migration drops event data: the guard must see it.
            reverse_destroys=("evaluation_events",),
        ),
    ]
