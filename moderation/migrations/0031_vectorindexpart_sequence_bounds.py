from django.db import migrations, models


class Migration(migrations.Migration):
    """Parts over the insertion sequence: a kind and fold_seq bounds beside the key range. The parts already built
    are key-range parts until 0032 replaces them; 0033 then drops the key bounds."""

    dependencies = [
        ("moderation", "0030_evaluation_fold_seq_idx"),
    ]

    operations = [
        migrations.AddField(
            model_name="vectorindexpart",
            name="kind",
            field=models.CharField(
                choices=[
                    ("stored", "Rows stored before the insertion sequence"),
                    ("sequence", "A range of the insertion sequence"),
                ],
                # The parts listed so far: ranges of event_id (a constant default: no table rewrite).
                default="key_range",
                max_length=None,
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="vectorindexpart",
            name="seq_low",
            field=models.BigIntegerField(blank=True, help_text="Lowest fold_seq; none: unbounded below.", null=True),
        ),
        migrations.AddField(
            model_name="vectorindexpart",
            name="seq_high",
            field=models.BigIntegerField(blank=True, help_text="The fold_seq above the part.", null=True),
        ),
        migrations.AlterField(
            model_name="vectorindexpart",
            name="low",
            field=models.UUIDField(null=True),
        ),
        migrations.AlterField(
            model_name="vectorindexpart",
            name="high",
            field=models.UUIDField(null=True),
        ),
    ]
