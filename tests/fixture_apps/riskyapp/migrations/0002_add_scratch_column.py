from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("riskyapp", "0001_initial")]
    operations = [
        migrations.RunSQL(
            sql="ALTER TABLE evaluation_events ADD COLUMN scratch integer",
            # Undoing this migration drops event data: the guard must see it.
            reverse_sql="ALTER TABLE evaluation_events DROP COLUMN scratch",
        ),
    ]
