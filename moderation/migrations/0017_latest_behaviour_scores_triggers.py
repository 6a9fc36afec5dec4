from django.db import migrations

from dbops.operations import EventTableSQL

# evaluation_latest_scores follows evaluation_events for every writer. Statement-level triggers with transition
# tables: one set-based pass per INSERT/UPDATE/DELETE statement, not one per row (a batch of 1,000 events costs
# one UPDATE of its authors).
#
# INSERT: an author whose new rows all come after the stored latest row gets them appended to its window (the
# common case: the ingest paths write each author's events in time order under a per-author lock). An author
# seen for the first time, or given a row older than the stored latest (a backfill, a late writer), is read
# again from the events through evaluation_mod_user_scores_idx. DELETE and UPDATE re-read the affected authors
# and drop those with no rows left; TRUNCATE empties the table.
CREATE = """
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

CREATE FUNCTION evaluation_latest_scores_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM evaluation_latest_scores_refresh(array_agg(moderator_id), array_agg(platform_user_id), false)
    FROM (SELECT moderator_id, platform_user_id FROM old_events
          UNION SELECT moderator_id, platform_user_id FROM new_events) touched;
    RETURN NULL;
END
$$;

CREATE FUNCTION evaluation_latest_scores_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM evaluation_latest_scores_refresh(array_agg(moderator_id), array_agg(platform_user_id), false)
    FROM (SELECT DISTINCT moderator_id, platform_user_id FROM old_events) touched;
    RETURN NULL;
END
$$;

CREATE FUNCTION evaluation_latest_scores_after_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- DELETE, not TRUNCATE: a TRUNCATE naming both tables (Django's flush) holds this one open.
    DELETE FROM evaluation_latest_scores;
    RETURN NULL;
END
$$;

CREATE TRIGGER evaluation_latest_scores_insert AFTER INSERT ON evaluation_events
    REFERENCING NEW TABLE AS inserted_events
    FOR EACH STATEMENT EXECUTE FUNCTION evaluation_latest_scores_after_insert();
CREATE TRIGGER evaluation_latest_scores_update AFTER UPDATE ON evaluation_events
    REFERENCING OLD TABLE AS old_events NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION evaluation_latest_scores_after_update();
CREATE TRIGGER evaluation_latest_scores_delete AFTER DELETE ON evaluation_events
    REFERENCING OLD TABLE AS old_events
    FOR EACH STATEMENT EXECUTE FUNCTION evaluation_latest_scores_after_delete();
CREATE TRIGGER evaluation_latest_scores_truncate AFTER TRUNCATE ON evaluation_events
    FOR EACH STATEMENT EXECUTE FUNCTION evaluation_latest_scores_after_truncate();
"""

DROP = """
DROP TRIGGER IF EXISTS evaluation_latest_scores_insert ON evaluation_events;
DROP TRIGGER IF EXISTS evaluation_latest_scores_update ON evaluation_events;
DROP TRIGGER IF EXISTS evaluation_latest_scores_delete ON evaluation_events;
DROP TRIGGER IF EXISTS evaluation_latest_scores_truncate ON evaluation_events;
DROP FUNCTION IF EXISTS evaluation_latest_scores_after_insert();
DROP FUNCTION IF EXISTS evaluation_latest_scores_after_update();
DROP FUNCTION IF EXISTS evaluation_latest_scores_after_delete();
DROP FUNCTION IF EXISTS evaluation_latest_scores_after_truncate();
DROP FUNCTION IF EXISTS evaluation_latest_scores_refresh(uuid[], text[], boolean);
DROP FUNCTION IF EXISTS evaluation_author_window(uuid, text);
"""


class Migration(migrations.Migration):
    """Triggers that keep evaluation_latest_scores for every writer (a short lock on evaluation_events to add them)."""

    dependencies = [
        ("moderation", "0016_latest_behaviour_scores"),
    ]

    operations = [
        # Triggers and functions: no event row or value changes either way.
        EventTableSQL(sql=CREATE, reverse_sql=DROP, destroys=(), reverse_destroys=()),
    ]
