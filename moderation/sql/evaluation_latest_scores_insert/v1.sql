CREATE TRIGGER evaluation_latest_scores_insert AFTER INSERT ON evaluation_events
    REFERENCING NEW TABLE AS inserted_events
    FOR EACH STATEMENT EXECUTE FUNCTION evaluation_latest_scores_after_insert();
