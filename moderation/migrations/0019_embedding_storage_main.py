from django.db import migrations

from dbops.operations import EventTableSQL


class Migration(migrations.Migration):
    """Embeddings stored in the row (MAIN) instead of the TOAST table (EXTENDED, PostgreSQL's default).

    A 1024-d vector is 4 KB, over the 2 KB at which PostgreSQL moves a value out of line, and floats do not
    compress: by default every exact distance (the tail, a small moderator's search, a graph part's result) read
    each vector through the TOAST index, ~17 us a row. Kept in the row, an exact search over one moderator's
    1,601 embeddings took 3.6 ms instead of 9.6 ms (13,981: 26.7 ms instead of 79.5 ms), for ~45% more heap.
    A catalog change: rows stored before it keep their out-of-line vectors; rows written after are inline.
    """

    dependencies = [
        ("moderation", "0018_fill_latest_behaviour_scores"),
    ]

    operations = [
        # Storage of values written from now on; no row or value changes either way.
        EventTableSQL(
            sql="ALTER TABLE evaluation_events ALTER COLUMN embedding SET STORAGE MAIN",
            reverse_sql="ALTER TABLE evaluation_events ALTER COLUMN embedding SET STORAGE EXTENDED",
            destroys=(),
            reverse_destroys=(),
        ),
    ]
