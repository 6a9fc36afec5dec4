from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("plainindexapp", "0001_initial")]
    operations = [
        # Django's own: cannot be re-run after an interrupted build, so check_migrations refuses it here.
        AddIndexConcurrently(
            model_name="actionshadow", index=models.Index(fields=["status"], name="plainindex_status_idx")
        ),
    ]
