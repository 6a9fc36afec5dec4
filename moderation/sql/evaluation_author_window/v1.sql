CREATE FUNCTION evaluation_author_window(p_moderator_id uuid, p_platform_user_id text)
RETURNS TABLE (event_id uuid, behaviour_score float8, created_at timestamptz, recent_severities smallint[])
LANGUAGE sql STABLE AS $$
    SELECT (array_agg(h.event_id ORDER BY h.created_at DESC, h.event_id DESC))[1],
           (array_agg(h.behaviour_score ORDER BY h.created_at DESC, h.event_id DESC))[1],
           max(h.created_at),
           array_agg(round(h.severity_score::numeric * 100)::smallint ORDER BY h.created_at, h.event_id)
    FROM (
        SELECT e.event_id, e.behaviour_score, e.created_at, e.severity_score FROM evaluation_events e
        WHERE e.moderator_id = p_moderator_id AND e.platform_user_id = p_platform_user_id
        ORDER BY e.created_at DESC, e.event_id DESC LIMIT 100
    ) h
    HAVING count(*) > 0
$$;
