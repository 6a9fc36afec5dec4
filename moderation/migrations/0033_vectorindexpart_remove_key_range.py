from django.db import migrations, models


class Migration(migrations.Migration):
    """No part is a key range any more (0032): the key bounds go, and the kinds and sequence bounds are checked."""

    dependencies = [
        ("moderation", "0032_fold_stored_rows"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="vectorindexpart", name="vector_index_part_range"),
        migrations.RemoveConstraint(model_name="vectorindexpart", name="vector_index_part_low_unique"),
        migrations.RemoveField(model_name="vectorindexpart", name="low"),
        migrations.RemoveField(model_name="vectorindexpart", name="high"),
        migrations.AddConstraint(
            model_name="vectorindexpart",
            constraint=models.CheckConstraint(
                condition=models.Q(("kind__in", ["stored", "sequence"])), name="vector_index_part_kind_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="vectorindexpart",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("kind", "stored"), ("seq_high", None), ("seq_low", None)),
                    models.Q(
                        ("kind", "sequence"),
                        ("seq_high__isnull", False),
                        models.Q(("seq_low", None), ("seq_low__lt", models.F("seq_high")), _connector="OR"),
                    ),
                    _connector="OR",
                ),
                name="vector_index_part_bounds",
            ),
        ),
        migrations.AddConstraint(
            model_name="vectorindexpart",
            constraint=models.UniqueConstraint(
                fields=("kind", "seq_low"), name="vector_index_part_seq_low_unique", nulls_distinct=False
            ),
        ),
    ]
