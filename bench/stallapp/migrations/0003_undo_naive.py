from django.db import migrations


class Migration(migrations.Migration):
    """Back to the table the house way starts from."""

    dependencies = [("stallapp", "0002_naive_column_and_index")]
    operations = [
        migrations.RemoveIndex("stallevent", "bench_naive_idx"),
        migrations.RemoveField("stallevent", "bench_naive"),
    ]
