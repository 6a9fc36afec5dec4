"""The event tables and the few facts about them that the guard, the conventions and backups share."""

import re

# The event logs: the biggest tables, kept as evidence, and what a migration must never lose
# unnoticed. Listed in load order: action_events.evaluation_id references evaluation_events.
EVENT_TABLES = ("evaluation_events", "action_events")

_EVENT_TABLE_NAMES = re.compile(r"\b(" + "|".join(EVENT_TABLES) + r")\b", re.IGNORECASE)


def event_tables_named(sql) -> list[str]:
    """The event tables a RunSQL's sql (a string, or a list of strings and (sql, params) pairs) mentions.

    Only a mention: what the SQL does to them is for the author to declare (dbops.operations.EventTableSQL).
    """
    if sql is None or isinstance(sql, str):
        text = sql or ""
    else:
        text = " ".join(item[0] if isinstance(item, (list, tuple)) else item for item in sql)
    named = {match.lower() for match in _EVENT_TABLE_NAMES.findall(text)}
    return [table for table in EVENT_TABLES if table in named]


def table_of(model_state) -> str:
    """The table a migration state's model lives in."""
    return model_state.options.get("db_table") or f"{model_state.app_label}_{model_state.name_lower}"


def has_rows(cursor, table: str) -> bool:
    """Whether `table` exists and holds at least one row (one index probe, never a count)."""
    cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
    if not cursor.fetchone()[0]:
        return False
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {cursor.db.ops.quote_name(table)})")
    return cursor.fetchone()[0]
