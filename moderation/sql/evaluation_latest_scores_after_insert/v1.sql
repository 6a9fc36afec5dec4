-- Nested loops only: the planner knows nothing of a transition table and would hash the whole table of authors
-- (a sequential scan of 50,000 rows, 26 ms) to meet a batch's ~1,000, where one key lookup each takes ~5 ms.
CREATE FUNCTION evaluation_latest_scores_after_insert() RETURNS trigger LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off AS $$
DECLARE
    reread_moderators uuid[];
    reread_users text[];
BEGIN
    -- First-time authors and rows older than the stored latest: read from the events (which now hold the new
    -- rows). Afterwards their stored latest is at least as new as every new row, so the append below skips them.
    SELECT array_agg(n.moderator_id), array_agg(n.platform_user_id) INTO reread_moderators, reread_users
    FROM (
        SELECT DISTINCT ON (moderator_id, platform_user_id) moderator_id, platform_user_id, created_at, event_id
        FROM inserted_events ORDER BY moderator_id, platform_user_id, created_at, event_id
    ) n
    LEFT JOIN evaluation_latest_scores s USING (moderator_id, platform_user_id)
    WHERE s.moderator_id IS NULL OR (s.created_at, s.event_id) > (n.created_at, n.event_id);
    IF reread_moderators IS NOT NULL THEN  -- a call plans the function's statements: ~1 ms a single insert
        PERFORM evaluation_latest_scores_refresh(reread_moderators, reread_users, true);
    END IF;

    -- Every aggregate in one order, so the rows are sorted once, not once per author and aggregate.
    UPDATE evaluation_latest_scores s
    SET event_id = n.event_ids[cardinality(n.event_ids)], behaviour_score = n.scores[cardinality(n.scores)],
        created_at = n.newest, recent_severities = (s.recent_severities || n.recent)[
            greatest(1, cardinality(s.recent_severities) + cardinality(n.recent) - 99):]
    FROM (
        SELECT moderator_id, platform_user_id, min(created_at) AS oldest, max(created_at) AS newest,
               array_agg(event_id ORDER BY created_at, event_id) AS event_ids,
               array_agg(behaviour_score ORDER BY created_at, event_id) AS scores,
               array_agg(round(severity_score::numeric * 100)::smallint ORDER BY created_at, event_id) AS recent
        FROM inserted_events GROUP BY moderator_id, platform_user_id
    ) n
    WHERE s.moderator_id = n.moderator_id AND s.platform_user_id = n.platform_user_id
      AND (s.created_at, s.event_id) < (n.oldest, n.event_ids[1]);
    RETURN NULL;
END
$$;
