-- p_keep_newer: an INSERT never replaces a stored row newer than what it read (another writer's, committed
-- after this statement's snapshot); a DELETE or UPDATE takes what it reads, older or not.
CREATE FUNCTION evaluation_latest_scores_refresh(
    p_moderator_ids uuid[], p_platform_user_ids text[], p_keep_newer boolean
) RETURNS void LANGUAGE sql VOLATILE AS $$
    INSERT INTO evaluation_latest_scores AS s
        (moderator_id, platform_user_id, event_id, behaviour_score, created_at, recent_severities)
    SELECT a.moderator_id, a.platform_user_id, w.event_id, w.behaviour_score, w.created_at, w.recent_severities
    FROM (SELECT DISTINCT * FROM unnest(p_moderator_ids, p_platform_user_ids) AS a(moderator_id, platform_user_id)) a
    CROSS JOIN LATERAL evaluation_author_window(a.moderator_id, a.platform_user_id) w
    ON CONFLICT (moderator_id, platform_user_id) DO UPDATE
    SET event_id = excluded.event_id, behaviour_score = excluded.behaviour_score, created_at = excluded.created_at,
        recent_severities = excluded.recent_severities
    WHERE NOT p_keep_newer OR (excluded.created_at, excluded.event_id) >= (s.created_at, s.event_id);

    DELETE FROM evaluation_latest_scores s
    USING unnest(p_moderator_ids, p_platform_user_ids) AS a(moderator_id, platform_user_id)
    WHERE NOT p_keep_newer  -- after an INSERT every author has rows
      AND s.moderator_id = a.moderator_id AND s.platform_user_id = a.platform_user_id
      AND NOT EXISTS (
          SELECT 1 FROM evaluation_events e
          WHERE e.moderator_id = a.moderator_id AND e.platform_user_id = a.platform_user_id
      );
$$;
