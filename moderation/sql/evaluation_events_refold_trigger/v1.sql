CREATE TRIGGER evaluation_events_refold_trigger BEFORE UPDATE OF embedding ON evaluation_events
FOR EACH ROW WHEN (NEW.embedding IS NOT NULL AND NEW.embedding IS DISTINCT FROM OLD.embedding)
EXECUTE FUNCTION evaluation_events_refold();
