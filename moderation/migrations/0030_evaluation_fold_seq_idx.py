from django.db import migrations, models

from dbops.operations import RerunnableAddIndexConcurrently


class Migration(migrations.Migration):
    """The unfolded tail's rows in insertion order: similar-content search scans the tail through it, and
    fold_embeddings finds its bound with it. Rows without an embedding or a number stay out."""

    atomic = False

    dependencies = [
        ("moderation", "0029_evaluationevent_fold_seq"),
    ]

    operations = [
        RerunnableAddIndexConcurrently(
            model_name="evaluationevent",
            index=models.Index(
                condition=models.Q(("embedding__isnull", False), ("fold_seq__isnull", False)),
                fields=["fold_seq"],
                name="evaluation_fold_seq_idx",
            ),
        ),
    ]
