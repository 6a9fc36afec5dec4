from django.db import migrations

from dbops.operations import EventTableSQL

# evaluation_latest_scores follows evaluation_events for every writer. Statement-level triggers with transition
# tables: one set-based statement per INSERT/UPDATE/DELETE statement, not one per row (a batch of 1,000 events
# costs one upsert of its authors). An INSERT keeps, per author, the newer of the stored row and the batch's
# newest, by (created_at, event_id): the same answer in any commit order. A DELETE or UPDATE re-reads each
# affected author's latest row through evaluation_mod_user_scores_idx (one descent per author) and drops the
# authors with no rows left.
CREATE = """
CREATE FUNCTION evaluation_latest_scores_refresh(p_moderator_ids uuid[], p_platform_user_ids text[])
RETURNS void LANGUAGE sql VOLATILE AS $$
    INSERT INTO evaluation_latest_scores AS s (moderator_id, platform_user_id, event_id, behaviour_score, created_at)
    SELECT l.moderator_id, l.platform_user_id, l.event_id, l.behaviour_score, l.created_at
    FROM (SELECT DISTINCT * FROM unnest(p_moderator_ids, p_platform_user_ids) AS a(moderator_id, platform_user_id)) a
    CROSS JOIN LATERAL (
        SELECT e.moderator_id, e.platform_user_id, e.event_id, e.behaviour_score, e.created_at
        FROM evaluation_events e
        WHERE e.moderator_id = a.moderator_id AND e.platform_user_id = a.platform_user_id
        ORDER BY e.created_at DESC, e.event_id DESC LIMIT 1
    ) l
    ON CONFLICT (moderator_id, platform_user_id) DO UPDATE
    SET event_id = excluded.event_id, behaviour_score = excluded.behaviour_score, created_at = excluded.created_at;

    DELETE FROM evaluation_latest_scores s
    USING unnest(p_moderator_ids, p_platform_user_ids) AS a(moderator_id, platform_user_id)
    WHERE s.moderator_id = a.moderator_id AND s.platform_user_id = a.platform_user_id
      AND NOT EXISTS (
          SELECT 1 FROM evaluation_events e
          WHERE e.moderator_id = a.moderator_id AND e.platform_user_id = a.platform_user_id
      );
$$;

CREATE FUNCTION evaluation_latest_scores_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO evaluation_latest_scores AS s (moderator_id, platform_user_id, event_id, behaviour_score, created_at)
    SELECT DISTINCT ON (moderator_id, platform_user_id)
           moderator_id, platform_user_id, event_id, behaviour_score, created_at
    FROM inserted_events
    ORDER BY moderator_id, platform_user_id, created_at DESC, event_id DESC
    ON CONFLICT (moderator_id, platform_user_id) DO UPDATE
    SET event_id = excluded.event_id, behaviour_score = excluded.behaviour_score, created_at = excluded.created_at
    WHERE (excluded.created_at, excluded.event_id) > (s.created_at, s.event_id);
    RETURN NULL;
END
$$;

CREATE FUNCTION evaluation_latest_scores_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM evaluation_latest_scores_refresh(array_agg(moderator_id), array_agg(platform_user_id))
    FROM (SELECT moderator_id, platform_user_id FROM old_events
          UNION SELECT moderator_id, platform_user_id FROM new_events) touched;
    RETURN NULL;
END
$$;

CREATE FUNCTION evaluation_latest_scores_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM evaluation_latest_scores_refresh(array_agg(moderator_id), array_agg(platform_user_id))
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
DROP FUNCTION IF EXISTS evaluation_latest_scores_refresh(uuid[], text[]);
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
