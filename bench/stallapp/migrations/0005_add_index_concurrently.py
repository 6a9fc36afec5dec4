from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    """The house way, step 2: CREATE INDEX CONCURRENTLY lets inserts through while it builds."""

    atomic = False
    dependencies = [("stallapp", "0004_add_column")]
    operations = [
        AddIndexConcurrently(
            "stallevent", models.Index(fields=["platform_user_id", "severity_score"], name="bench_ours_idx")
        ),
    ]
