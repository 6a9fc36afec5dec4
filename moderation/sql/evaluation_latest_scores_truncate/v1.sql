CREATE TRIGGER evaluation_latest_scores_truncate AFTER TRUNCATE ON evaluation_events
    FOR EACH STATEMENT EXECUTE FUNCTION evaluation_latest_scores_after_truncate();
