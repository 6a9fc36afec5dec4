from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("riskyapp", "0002_add_scratch_column")]
    operations = [
        migrations.RunSQL(
            sql="ALTER TABLE evaluation_events DROP COLUMN scratch",
            reverse_sql="ALTER TABLE evaluation_events ADD COLUMN scratch integer",
        ),
    ]
