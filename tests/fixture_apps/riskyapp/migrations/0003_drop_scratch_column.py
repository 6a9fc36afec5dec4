from django.db import migrations

from dbops.operations import EventTableSQL


class Migration(migrations.Migration):
    dependencies = [("riskyapp", "0002_add_scratch_column")]
    operations = [
        EventTableSQL(
            sql="ALTER TABLE evaluation_events DROP COLUMN scratch",
            reverse_sql="ALTER TABLE evaluation_events ADD COLUMN scratch integer",
            destroys=("evaluation_events",),
            reverse_destroys=(),
        ),
    ]
