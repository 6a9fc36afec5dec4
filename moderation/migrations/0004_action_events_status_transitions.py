from django.db import migrations

from dbops.operations import EventTableSQL

# Only a human decision moves an action, and only once: awaiting_approval -> completed | failed | rejected.
# A trigger, not only services.py, because every writer must obey it: QuerySet.update(), raw SQL, the
# old service during a switch. Our own plpgsql rather than django-pgtrigger: one function and one
# trigger, the same pattern as the updated_at trigger (dbops.operations.MaintainUpdatedAt), no new
# dependency with its own install machinery. ERRCODE check_violation reaches Django as IntegrityError.
FORWARD = """
CREATE FUNCTION action_events_check_status_transition() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF OLD.status = 'awaiting_approval' AND NEW.status IN ('completed', 'failed', 'rejected') THEN
        RETURN NEW;
    END IF;
    IF NEW.status NOT IN ('awaiting_approval', 'completed', 'failed', 'rejected') THEN
        RETURN NEW;  -- not a status at all: the CHECK constraint action_status_valid refuses it by name
    END IF;
    RAISE EXCEPTION 'action_events %: status cannot change from % to %', OLD.action_id, OLD.status, NEW.status
        USING ERRCODE = 'check_violation',
              HINT = 'Only awaiting_approval actions are decided: to completed, failed or rejected.';
END
$fn$;
CREATE TRIGGER action_events_status_transition
    BEFORE UPDATE OF status ON action_events
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION action_events_check_status_transition();
"""

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
        EventTableSQL(sql=FORWARD, reverse_sql=BACKWARD, destroys=(), reverse_destroys=()),
    ]
