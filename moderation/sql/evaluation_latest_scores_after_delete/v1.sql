CREATE FUNCTION evaluation_latest_scores_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM evaluation_latest_scores_refresh(array_agg(moderator_id), array_agg(platform_user_id), false)
    FROM (SELECT DISTINCT moderator_id, platform_user_id FROM old_events) touched;
    RETURN NULL;
END
$$;
