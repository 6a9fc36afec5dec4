CREATE TRIGGER evaluation_latest_scores_update AFTER UPDATE ON evaluation_events
    REFERENCING OLD TABLE AS old_events NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION evaluation_latest_scores_after_update();
