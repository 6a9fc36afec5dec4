CREATE FUNCTION evaluation_latest_scores_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- DELETE, not TRUNCATE: a TRUNCATE naming both tables (Django's flush) holds this one open.
    DELETE FROM evaluation_latest_scores;
    RETURN NULL;
END
$$;
