from django.db import migrations


def backfill(apps, schema_editor):
    apps.get_model("riskyapp", "Note").objects.create(text="backfilled")


class Migration(migrations.Migration):
    dependencies = [("riskyapp", "0003_drop_scratch_column")]
    # No reverse_code on purpose: rollback must stop here before changing anything.
    operations = [migrations.RunPython(backfill)]
