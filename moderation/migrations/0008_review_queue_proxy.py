from django.db import migrations


class Migration(migrations.Migration):
    """The review queue's admin page: a proxy of ActionEvent (no table, no permissions of its own)."""

    dependencies = [
        ("moderation", "0007_admin_console_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReviewQueueItem",
            fields=[],
            options={
                "verbose_name": "action awaiting review",
                "verbose_name_plural": "review queue",
                "proxy": True,
                "default_permissions": (),
                "indexes": [],
                "constraints": [],
            },
            bases=("moderation.actionevent",),
        ),
    ]
