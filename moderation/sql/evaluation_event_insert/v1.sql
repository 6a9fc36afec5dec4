CREATE FUNCTION evaluation_event_insert(
    p_event_id uuid, p_moderator_id uuid, p_platform_user_id text, p_severity_score float8, p_context jsonb,
    p_embedding vector, p_created_at timestamptz, p_lock_key bigint
) RETURNS TABLE (recorded_behaviour_score float8, recorded_created_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock_key);
    -- The foreign key is deferred to COMMIT; fail here with the same detail, so the caller can name the item.
    IF NOT EXISTS (SELECT 1 FROM moderators WHERE moderator_id = p_moderator_id) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'insert or update on table "evaluation_events" violates foreign key constraint',
            DETAIL = format('Key (moderator_id)=(%s) is not present in table "moderators".', p_moderator_id);
    END IF;
    RETURN QUERY
    INSERT INTO evaluation_events AS e
        (event_id, moderator_id, platform_user_id, severity_score, behaviour_score, context, embedding, created_at)
    VALUES (
        p_event_id, p_moderator_id, p_platform_user_id, p_severity_score,
        (SELECT round(avg(w.severity_score)::numeric, 2)::float8 FROM (
            SELECT p_severity_score AS severity_score
            UNION ALL
            (SELECT h.severity_score FROM evaluation_events h
             WHERE h.moderator_id = p_moderator_id AND h.platform_user_id = p_platform_user_id
             ORDER BY h.created_at DESC LIMIT 99)
        ) w),
        p_context, p_embedding, coalesce(p_created_at, clock_timestamp())
    )
    RETURNING e.behaviour_score, e.created_at;
END
$$;
