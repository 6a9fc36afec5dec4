-- The behaviour score's window: an author's last 100 severity scores under one moderator, the newest included.
-- Every statement that computes a score or keeps a window (evaluation_latest_scores) reads the size here; the
-- planner inlines the call and folds it to a constant, so it costs nothing. Python's copy of the number is
-- moderation.models.BEHAVIOUR_WINDOW (a test holds the two equal).
CREATE FUNCTION behaviour_window() RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT 100
$$;
