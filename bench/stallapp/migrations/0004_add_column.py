from django.db import migrations, models


class Migration(migrations.Migration):
    """The house way, step 1: a nullable column without a default is a catalog-only change."""

    dependencies = [("stallapp", "0003_undo_naive")]
    operations = [migrations.AddField("stallevent", "bench_ours", models.BooleanField(null=True))]
