from django.db import migrations, models


class Migration(migrations.Migration):
    """Each author's window total beside the window (0 until 0022 fills it and makes the triggers keep it).

    A constant default: PostgreSQL 11+ adds the column without rewriting the table.
    """

    dependencies = [
        ("moderation", "0020_evaluation_event_insert_reads_window"),
    ]

    operations = [
        migrations.AddField(
            model_name="latestbehaviourscore",
            name="recent_total",
            field=models.IntegerField(db_default=0, help_text="The sum of recent_severities."),
        ),
    ]
