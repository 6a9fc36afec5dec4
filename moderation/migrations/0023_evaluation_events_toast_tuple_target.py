from django.db import migrations

from dbops.operations import EventTableSQL


class Migration(migrations.Migration):
    """Rows up to a page's 8,160 bytes are stored as they are, not run through the compressor first.

    From 2 KB on (PostgreSQL's default toast_tuple_target), every row with a 1024-d embedding (4 KB) went through
    pglz: its context and then its vector, whose floats never compress, so the vector was stored as it came, after
    ~30 us of work. That was ~7% of a batch insert's time in the server (a 1,000-row batch at 1M events, 20%
    embedded: ~90 ms instead of ~96). A row over 8,160 bytes (a long context) is still compressed, then moved out
    of line, as before. A storage parameter: rows already stored keep their form; nothing is rewritten.
    """

    dependencies = [
        ("moderation", "0022_latest_scores_total_and_one_pass_trigger"),
    ]

    operations = [
        EventTableSQL(
            sql="ALTER TABLE evaluation_events SET (toast_tuple_target = 8160)",
            reverse_sql="ALTER TABLE evaluation_events RESET (toast_tuple_target)",
            destroys=(),
            reverse_destroys=(),
        ),
    ]
