CREATE OR REPLACE FUNCTION evaluation_event_insert(
    p_event_id uuid, p_moderator_id uuid, p_platform_user_id text, p_severity_score float8, p_context jsonb,
    p_embedding vector, p_created_at timestamptz, p_lock_key bigint
) RETURNS TABLE (recorded_behaviour_score float8, recorded_created_at timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    stored_ctid tid;
    stored_created_at timestamptz;
    stored_event_id uuid;
    stored smallint[];
    hundredths smallint := round(p_severity_score::numeric * 100);
    score float8;
    created timestamptz;
    kept boolean := false;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock_key);
    -- The foreign key is deferred to COMMIT; fail here with the same detail, so the caller can name the item.
    IF NOT EXISTS (SELECT 1 FROM moderators WHERE moderator_id = p_moderator_id) THEN
        RAISE foreign_key_violation USING
            MESSAGE = 'insert or update on table "evaluation_events" violates foreign key constraint',
            DETAIL = format('Key (moderator_id)=(%s) is not present in table "moderators".', p_moderator_id);
    END IF;
    -- A statement of its own, after the lock: it sees what the writer we waited for committed.
    SELECT l.ctid, l.created_at, l.event_id, l.recent_severities
    INTO stored_ctid, stored_created_at, stored_event_id, stored
    FROM evaluation_latest_scores l
    WHERE l.moderator_id = p_moderator_id AND l.platform_user_id = p_platform_user_id;
    -- numeric: an integer division would truncate the mean.
    score := (SELECT round((hundredths::numeric + coalesce(sum(x), 0)) / (1 + count(x)) / 100, 2)::float8
              FROM unnest(stored[greatest(1, cardinality(stored) - 98):]) x);
    created := coalesce(p_created_at, clock_timestamp());

    -- The author's row, kept here as the insert trigger would (migration 0022), from what was just read: the
    -- trigger, finding the mark, returns at once (~0.6 ms of a single insert). A row older than the stored
    -- latest, a stored row another writer changed since (its ctid has moved) or older events with no stored row
    -- are left to the trigger, which reads the author again.
    IF stored_ctid IS NOT NULL THEN
        IF (stored_created_at, stored_event_id) < (created, p_event_id) THEN
            UPDATE evaluation_latest_scores t
            SET event_id = p_event_id, behaviour_score = score, created_at = created,
                recent_severities
                    = (t.recent_severities || hundredths)[greatest(1, cardinality(t.recent_severities) - 98):],
                recent_total = t.recent_total + hundredths
                    - CASE WHEN cardinality(t.recent_severities) < 100 THEN 0 ELSE t.recent_severities[1] END
            WHERE t.ctid = stored_ctid;
            kept := FOUND;
        END IF;
    ELSIF NOT EXISTS (
        SELECT 1 FROM evaluation_events e
        WHERE e.moderator_id = p_moderator_id AND e.platform_user_id = p_platform_user_id AND e.created_at < created
    ) THEN
        INSERT INTO evaluation_latest_scores
            (moderator_id, platform_user_id, event_id, behaviour_score, created_at, recent_severities, recent_total)
        VALUES (p_moderator_id, p_platform_user_id, p_event_id, score, created, ARRAY[hundredths], hundredths)
        ON CONFLICT (moderator_id, platform_user_id) DO NOTHING;
        kept := FOUND;
    END IF;
    IF kept THEN  -- the insert trigger's test: this statement's smallest key and its row count
        PERFORM set_config('gova.latest_scores_kept', p_event_id::text || '/1', true);
    END IF;

    RETURN QUERY
    INSERT INTO evaluation_events AS e
        (event_id, moderator_id, platform_user_id, severity_score, behaviour_score, context, embedding, created_at)
    VALUES (p_event_id, p_moderator_id, p_platform_user_id, p_severity_score, score, p_context, p_embedding, created)
    RETURNING e.behaviour_score, e.created_at;
END
$$;
