from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("sloppyapp", "0002_rename_label")]
    operations = [
        migrations.RunSQL(
            "UPDATE evaluation_events SET context = context - 'roles'",
            migrations.RunSQL.noop,
        ),
    ]
