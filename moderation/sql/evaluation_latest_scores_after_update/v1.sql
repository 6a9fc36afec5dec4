CREATE FUNCTION evaluation_latest_scores_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM evaluation_latest_scores_refresh(array_agg(moderator_id), array_agg(platform_user_id), false)
    FROM (SELECT moderator_id, platform_user_id FROM old_events
          UNION SELECT moderator_id, platform_user_id FROM new_events) touched;
    RETURN NULL;
END
$$;
