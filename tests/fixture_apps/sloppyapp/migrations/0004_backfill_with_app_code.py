from django.db import migrations

from moderation.models import Moderator


def backfill(apps, schema_editor):
    Moderator.objects.update(status="offline")


class Migration(migrations.Migration):
    dependencies = [("sloppyapp", "0003_undeclared_event_sql")]
    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
