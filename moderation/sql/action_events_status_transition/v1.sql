CREATE TRIGGER action_events_status_transition
    BEFORE UPDATE OF status ON action_events
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION action_events_check_status_transition();
