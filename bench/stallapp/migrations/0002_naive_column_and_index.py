from django.db import migrations, models


class Migration(migrations.Migration):
    """Django's default way: one atomic migration, so ADD COLUMN's ACCESS EXCLUSIVE lock is held until
    the plain CREATE INDEX has read the whole table, and every insert waits for the build."""

    dependencies = [("stallapp", "0001_initial")]
    operations = [
        migrations.AddField("stallevent", "bench_naive", models.BooleanField(null=True)),
        migrations.AddIndex(
            "stallevent", models.Index(fields=["platform_user_id", "severity_score"], name="bench_naive_idx")
        ),
    ]
