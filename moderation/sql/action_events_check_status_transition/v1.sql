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
