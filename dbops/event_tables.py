# The event logs: the biggest tables, kept as evidence, and what a migration must never lose
# unnoticed. Listed in load order: action_events.evaluation_id references evaluation_events.
EVENT_TABLES = ("evaluation_events", "action_events")
