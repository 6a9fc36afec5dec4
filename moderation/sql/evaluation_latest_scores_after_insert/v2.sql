CREATE OR REPLACE FUNCTION evaluation_latest_scores_after_insert() RETURNS trigger LANGUAGE plpgsql
SET enable_hashjoin = off SET enable_mergejoin = off AS $$
DECLARE
    author_count bigint;
    appended_moderators uuid[];
    appended_users text[];
    reread_moderators uuid[];
    reread_users text[];
BEGIN
    -- The ingest statement (moderation.ingest.INSERT_SQL) kept every author of its rows itself and says so.
    IF current_setting('gova.latest_scores_kept', true)
        = (SELECT min(event_id::text) || '/' || count(*) FROM inserted_events) THEN
        RETURN NULL;
    END IF;
    -- Nested loops (the function's settings): the planner knows nothing of a transition table and would hash the
    -- whole table of authors to meet a batch's ~1,000. The UPDATE locks each row it changes and re-checks the
    -- condition against a concurrent writer's newer version, so an append never loses another one. SET reads the
    -- row as it was; `cardinality(s) + cardinality(n) - 100` severities leave the window, oldest first.
    WITH authors AS (
        SELECT moderator_id, platform_user_id, min(created_at) AS oldest, max(created_at) AS newest,
               array_agg(event_id ORDER BY created_at, event_id) AS event_ids,
               array_agg(behaviour_score ORDER BY created_at, event_id) AS scores,
               array_agg(round(severity_score::numeric * 100)::smallint ORDER BY created_at, event_id) AS recent,
               sum(round(severity_score::numeric * 100)) AS added
        FROM inserted_events GROUP BY moderator_id, platform_user_id
    ),
    appended AS (
        UPDATE evaluation_latest_scores s
        SET event_id = n.event_ids[cardinality(n.event_ids)], behaviour_score = n.scores[cardinality(n.scores)],
            created_at = n.newest,
            recent_severities = (s.recent_severities || n.recent)[
                greatest(1, cardinality(s.recent_severities) + cardinality(n.recent) - 99):],
            recent_total = s.recent_total + n.added - CASE
                WHEN cardinality(s.recent_severities) + cardinality(n.recent) <= 100 THEN 0
                -- A full window gaining one severity (the steady state): its oldest leaves.
                WHEN cardinality(s.recent_severities) + cardinality(n.recent) = 101 THEN s.recent_severities[1]
                ELSE (SELECT sum(x) FROM unnest((s.recent_severities || n.recent)[
                    1:cardinality(s.recent_severities) + cardinality(n.recent) - 100]) x)
            END
        FROM authors n
        WHERE s.moderator_id = n.moderator_id AND s.platform_user_id = n.platform_user_id
          AND (s.created_at, s.event_id) < (n.oldest, n.event_ids[1])
        RETURNING s.moderator_id, s.platform_user_id
    )
    SELECT (SELECT count(*) FROM authors), array_agg(moderator_id), array_agg(platform_user_id)
    INTO author_count, appended_moderators, appended_users
    FROM appended;
    IF author_count = coalesce(cardinality(appended_moderators), 0) THEN
        RETURN NULL;
    END IF;

    -- The authors not appended: a few per batch (none once every author has been seen), met by hashing.
    SET LOCAL enable_hashjoin = on;
    WITH rest AS (
        SELECT moderator_id, platform_user_id, min(created_at) AS oldest, max(created_at) AS newest,
               array_agg(event_id ORDER BY created_at, event_id) AS event_ids,
               array_agg(behaviour_score ORDER BY created_at, event_id) AS scores,
               array_agg(round(severity_score::numeric * 100)::smallint ORDER BY created_at, event_id) AS recent
        FROM inserted_events n
        WHERE NOT EXISTS (
            SELECT 1 FROM unnest(appended_moderators, appended_users) AS a(moderator_id, platform_user_id)
            WHERE a.moderator_id = n.moderator_id AND a.platform_user_id = n.platform_user_id
        )
        GROUP BY moderator_id, platform_user_id
    ),
    -- No events before these (this statement's snapshot sees every committed one): they are the whole window. A
    -- stored row (another writer's, or rows older than it) conflicts, and the author is read again below.
    created AS (
        INSERT INTO evaluation_latest_scores
            (moderator_id, platform_user_id, event_id, behaviour_score, created_at, recent_severities, recent_total)
        SELECT moderator_id, platform_user_id, event_ids[cardinality(event_ids)], scores[cardinality(scores)], newest,
               recent[greatest(1, cardinality(recent) - 99):],
               (SELECT sum(x) FROM unnest(recent[greatest(1, cardinality(recent) - 99):]) x)
        FROM rest r
        -- One probe of evaluation_mod_user_scores_idx that finds nothing for a new author: no heap visit.
        WHERE NOT EXISTS (
            SELECT 1 FROM evaluation_events e
            WHERE e.moderator_id = r.moderator_id AND e.platform_user_id = r.platform_user_id AND e.created_at < r.oldest
        )
        ON CONFLICT (moderator_id, platform_user_id) DO NOTHING
        RETURNING moderator_id, platform_user_id
    )
    SELECT array_agg(r.moderator_id), array_agg(r.platform_user_id) INTO reread_moderators, reread_users
    FROM rest r
    WHERE NOT EXISTS (
        SELECT 1 FROM created c WHERE c.moderator_id = r.moderator_id AND c.platform_user_id = r.platform_user_id
    );
    IF reread_moderators IS NOT NULL THEN
        PERFORM evaluation_latest_scores_refresh(reread_moderators, reread_users, true);
    END IF;
    RETURN NULL;
END
$$;
