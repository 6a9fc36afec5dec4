from django.contrib.postgres.operations import RemoveIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    """The table-wide HNSW index made every insert pay ~7 ms of graph maintenance; 0011's part replaces it.

    The reverse rebuilds it concurrently over every row (minutes at 200k x 1024-d; writes go on meanwhile).
    """

    atomic = False

    dependencies = [
        ("moderation", "0011_fold_existing_embeddings"),
    ]

    operations = [
        RemoveIndexConcurrently(model_name="evaluationevent", name="evaluation_embedding_hnsw"),
    ]
