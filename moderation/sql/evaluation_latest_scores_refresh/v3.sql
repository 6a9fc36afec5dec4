CREATE OR REPLACE FUNCTION evaluation_latest_scores_refresh(
    p_moderator_ids uuid[], p_platform_user_ids text[], p_keep_newer boolean
) RETURNS void LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    author_count bigint;
    locked_count bigint;
    stored_moderators uuid[];
    stored_users text[];
BEGIN
    SELECT (SELECT count(*) FROM (SELECT DISTINCT * FROM unnest(p_moderator_ids, p_platform_user_ids)) a),
           (SELECT count(*) FROM (
                SELECT FROM evaluation_latest_scores s
                JOIN (SELECT DISTINCT * FROM unnest(p_moderator_ids, p_platform_user_ids)
                      AS a(moderator_id, platform_user_id)) a
                  ON s.moderator_id = a.moderator_id AND s.platform_user_id = a.platform_user_id
                ORDER BY s.moderator_id, s.platform_user_id
                FOR UPDATE OF s
            ) locked)
    INTO author_count, locked_count;

    IF locked_count < author_count THEN
        -- Stored here, a window is complete: a writer adding rows of the author meanwhile meets this key, waits
        -- for this transaction, then reads the author again itself.
        WITH stored AS (
            INSERT INTO evaluation_latest_scores AS s
                (moderator_id, platform_user_id, event_id, behaviour_score, created_at, recent_severities, recent_total)
            SELECT a.moderator_id, a.platform_user_id, w.event_id, w.behaviour_score, w.created_at, w.recent_severities,
                   (SELECT sum(x) FROM unnest(w.recent_severities) x)
            FROM (
                SELECT DISTINCT * FROM unnest(p_moderator_ids, p_platform_user_ids) AS a(moderator_id, platform_user_id)
                WHERE NOT EXISTS (
                    SELECT 1 FROM evaluation_latest_scores l
                    WHERE l.moderator_id = a.moderator_id AND l.platform_user_id = a.platform_user_id
                )
                OFFSET 0  -- the authors without a stored row, before any window is read
            ) a
            CROSS JOIN LATERAL evaluation_author_window(a.moderator_id, a.platform_user_id) w
            ORDER BY a.moderator_id, a.platform_user_id
            ON CONFLICT (moderator_id, platform_user_id) DO NOTHING
            RETURNING s.moderator_id, s.platform_user_id
        )
        SELECT array_agg(moderator_id), array_agg(platform_user_id) INTO stored_moderators, stored_users FROM stored;

        IF locked_count + coalesce(cardinality(stored_moderators), 0) < author_count THEN  -- another writer's
            PERFORM FROM evaluation_latest_scores s
            JOIN (SELECT DISTINCT * FROM unnest(p_moderator_ids, p_platform_user_ids)
                  AS a(moderator_id, platform_user_id)) a
              ON s.moderator_id = a.moderator_id AND s.platform_user_id = a.platform_user_id
            ORDER BY s.moderator_id, s.platform_user_id
            FOR UPDATE OF s;
        END IF;
    END IF;

    -- Read under the locks: no stored row holds a severity this statement does not see. The rows just stored
    -- above are not read twice.
    INSERT INTO evaluation_latest_scores AS s
        (moderator_id, platform_user_id, event_id, behaviour_score, created_at, recent_severities, recent_total)
    SELECT a.moderator_id, a.platform_user_id, w.event_id, w.behaviour_score, w.created_at, w.recent_severities,
           (SELECT sum(x) FROM unnest(w.recent_severities) x)
    FROM (
        SELECT DISTINCT * FROM unnest(p_moderator_ids, p_platform_user_ids) AS a(moderator_id, platform_user_id)
        EXCEPT
        SELECT * FROM unnest(stored_moderators, stored_users)
    ) a
    CROSS JOIN LATERAL evaluation_author_window(a.moderator_id, a.platform_user_id) w
    ON CONFLICT (moderator_id, platform_user_id) DO UPDATE
    SET event_id = excluded.event_id, behaviour_score = excluded.behaviour_score, created_at = excluded.created_at,
        recent_severities = excluded.recent_severities, recent_total = excluded.recent_total
    WHERE NOT p_keep_newer OR (excluded.created_at, excluded.event_id) >= (s.created_at, s.event_id);

    IF NOT p_keep_newer THEN  -- after an UPDATE or DELETE: authors left with no events lose their row
        DELETE FROM evaluation_latest_scores s
        USING unnest(p_moderator_ids, p_platform_user_ids) AS a(moderator_id, platform_user_id)
        WHERE s.moderator_id = a.moderator_id AND s.platform_user_id = a.platform_user_id
          AND NOT EXISTS (
              SELECT 1 FROM evaluation_events e
              WHERE e.moderator_id = a.moderator_id AND e.platform_user_id = a.platform_user_id
          );
    END IF;
END
$$;
