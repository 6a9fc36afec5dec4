CREATE TRIGGER evaluation_latest_scores_delete AFTER DELETE ON evaluation_events
    REFERENCING OLD TABLE AS old_events
    FOR EACH STATEMENT EXECUTE FUNCTION evaluation_latest_scores_after_delete();
