from django.db import migrations

from dbops.operations import RunSQLVersions

# Only a human decision moves an action, and only once: awaiting_approval -> completed | failed | rejected.
# A trigger, not only services.py, because every writer must obey it: QuerySet.update(), raw SQL, the
# old service during a switch. Our own plpgsql rather than django-pgtrigger: one function and one
# trigger, the same pattern as the updated_at trigger (dbops.operations.MaintainUpdatedAt), no new
# dependency with its own install machinery. ERRCODE check_violation reaches Django as IntegrityError.
BACKWARD = """
DROP TRIGGER IF EXISTS action_events_status_transition ON action_events;
DROP FUNCTION IF EXISTS action_events_check_status_transition();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0003_action_events_updated_at_trigger"),
    ]

    operations = [
        # A trigger: no row or value changes either way.
        RunSQLVersions(
            "moderation",
            {"action_events_check_status_transition": 1, "action_events_status_transition": 1},
            reverse_sql=BACKWARD,
            destroys=(),
            reverse_destroys=(),
        ),
    ]
