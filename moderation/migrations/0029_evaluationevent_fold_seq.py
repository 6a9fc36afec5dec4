from django.db import migrations, models

import gova.db
from dbops.operations import EventTableSQL

# Every role that may insert evaluation events (the old service's, when it logs in as a role of its own) must be
# able to take a number: nextval() needs USAGE on the sequence. The owner has it; PUBLIC (grantee 0) as granted.
GRANT_TO_WRITERS = """
DO $$
DECLARE
    writer oid;
BEGIN
    FOR writer IN
        SELECT DISTINCT a.grantee FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.oid = 'evaluation_events'::regclass AND a.privilege_type = 'INSERT' AND a.grantee <> c.relowner
    LOOP
        EXECUTE format('GRANT USAGE ON SEQUENCE evaluation_events_fold_seq TO %s',
                       CASE WHEN writer = 0 THEN 'PUBLIC' ELSE quote_ident(writer::regrole::text) END);
    END LOOP;
END $$;
"""


class Migration(migrations.Migration):
    """evaluation_events.fold_seq: the next number of a sequence for every row inserted from now on, by any writer
    (its INSERT leaves the column out). Vector index parts are ranges of it (moderation.vector_index), not of keys.

    Neither step rewrites the table: the column comes without a default (the rows stored so far keep NULL), and
    SET DEFAULT only applies to rows inserted afterwards. Each holds its ACCESS EXCLUSIVE lock for a catalog change.
    """

    dependencies = [
        ("moderation", "0028_created_at_keyset_indexes"),
    ]

    operations = [
        migrations.RunSQL(
            # No CACHE (1, the default), and it must stay so: a part is built up to the sequence's last value, and a
            # session with a cache could hand out a lower number it reserved earlier, into a built part.
            sql="CREATE SEQUENCE evaluation_events_fold_seq AS bigint",
            reverse_sql="DROP SEQUENCE evaluation_events_fold_seq",
        ),
        # A grant: no event row changes. Backwards, the sequence's DROP takes the grants along.
        EventTableSQL(sql=GRANT_TO_WRITERS, reverse_sql=migrations.RunSQL.noop, destroys=(), reverse_destroys=()),
        migrations.AddField(
            model_name="evaluationevent",
            name="fold_seq",
            field=models.BigIntegerField(
                editable=False,
                help_text="Insertion sequence number; a new embedding written by UPDATE takes a new one.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="evaluationevent",
            name="fold_seq",
            field=models.BigIntegerField(
                db_default=gova.db.NextVal("evaluation_events_fold_seq"),
                editable=False,
                help_text="Insertion sequence number; a new embedding written by UPDATE takes a new one.",
                null=True,
            ),
        ),
    ]
