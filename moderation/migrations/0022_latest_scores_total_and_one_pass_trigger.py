from django.db import migrations

from dbops.operations import EventTableSQL

# evaluation_latest_scores keeps each author's window total (0021's column) for every writer, and its insert
# trigger does the common case in one pass.
#
# The refresh (late rows, UPDATE, DELETE, authors that cannot be inserted directly) sums the window it reads. The
# insert trigger groups the new rows by author once, and one UPDATE appends them to every author whose stored
# latest row is older than all of them: the total gains the new severities and loses those that leave the window
# (0017 looked every author up twice: once to find those to re-read, once to append). Only when some author was
# not appended does a second statement run: an author with no events older than its new rows gets them as its
# window, inserted directly (0017 read them back from the events). A stored row met there (another writer's first
# row for the author, committed meanwhile, or rows older than the stored latest) and older events without a stored
# row (events loaded with triggers off) send the author to evaluation_latest_scores_refresh, as 0017 did.
#
# The batch ingest statement (moderation.ingest.INSERT_SQL) does this for its own rows and, when it kept every
# author, sets `gova.latest_scores_kept` to its smallest key and row count: a statement whose rows match returns
# at once. Any other statement, in the same transaction or not, does not match and is kept as above.
REFRESH_WITH_TOTAL = """
CREATE OR REPLACE FUNCTION evaluation_latest_scores_refresh(
    p_moderator_ids uuid[], p_platform_user_ids text[], p_keep_newer boolean
) RETURNS void LANGUAGE sql VOLATILE AS $$
    INSERT INTO evaluation_latest_scores AS s
        (moderator_id, platform_user_id, event_id, behaviour_score, created_at, recent_severities, recent_total)
    SELECT a.moderator_id, a.platform_user_id, w.event_id, w.behaviour_score, w.created_at, w.recent_severities,
           (SELECT sum(x) FROM unnest(w.recent_severities) x)
    FROM (SELECT DISTINCT * FROM unnest(p_moderator_ids, p_platform_user_ids) AS a(moderator_id, platform_user_id)) a
    CROSS JOIN LATERAL evaluation_author_window(a.moderator_id, a.platform_user_id) w
    ON CONFLICT (moderator_id, platform_user_id) DO UPDATE
    SET event_id = excluded.event_id, behaviour_score = excluded.behaviour_score, created_at = excluded.created_at,
        recent_severities = excluded.recent_severities, recent_total = excluded.recent_total
    WHERE NOT p_keep_newer OR (excluded.created_at, excluded.event_id) >= (s.created_at, s.event_id);

    DELETE FROM evaluation_latest_scores s
    USING unnest(p_moderator_ids, p_platform_user_ids) AS a(moderator_id, platform_user_id)
    WHERE NOT p_keep_newer  -- after an INSERT every author has rows
      AND s.moderator_id = a.moderator_id AND s.platform_user_id = a.platform_user_id
      AND NOT EXISTS (
          SELECT 1 FROM evaluation_events e
          WHERE e.moderator_id = a.moderator_id AND e.platform_user_id = a.platform_user_id
      );
$$
"""

ONE_PASS = """
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
$$
"""

# Every stored window's total (0021 added them as 0). In the same transaction as the functions above, so from
# its commit on every writer keeps totals that start right.
FILL_TOTALS = """
UPDATE evaluation_latest_scores SET recent_total = (SELECT coalesce(sum(x), 0) FROM unnest(recent_severities) x)
"""

# 0017's functions, as they were.
REFRESH_WITHOUT_TOTAL = """
CREATE OR REPLACE FUNCTION evaluation_latest_scores_refresh(
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
"""

TWO_LOOKUPS = """
CREATE OR REPLACE FUNCTION evaluation_latest_scores_after_insert() RETURNS trigger LANGUAGE plpgsql
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
"""


class Migration(migrations.Migration):
    """evaluation_latest_scores keeps window totals; its insert trigger looks each author up once (none for a batch
    the ingest statement kept itself)."""

    dependencies = [
        ("moderation", "0021_latest_scores_recent_total"),
    ]

    operations = [
        # Function bodies: no event row or value changes either way.
        EventTableSQL(sql=REFRESH_WITH_TOTAL, reverse_sql=REFRESH_WITHOUT_TOTAL, destroys=(), reverse_destroys=()),
        EventTableSQL(sql=ONE_PASS, reverse_sql=TWO_LOOKUPS, destroys=(), reverse_destroys=()),
        # Derived values in the derived table; backwards the column goes with 0021's reverse.
        EventTableSQL(sql=FILL_TOTALS, reverse_sql=migrations.RunSQL.noop, destroys=(), reverse_destroys=()),
    ]
