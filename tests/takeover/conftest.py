"""A database of the old service at its Alembic head, and `manage.py` run on it as an operator would."""

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_DIR
from tests.old_service import LEGACY_KEY
from tests.takeover.legacy_service import create_legacy_schema, fill

LEGACY_COLUMNS = {
    "users": "user_id username email jwt pricing_tier stripe_customer_id created_at updated_at verified_at",
    "moderators": "moderator_id user_id name description platform platform_server_id conf status created_at",
    "evaluation_events": "event_id moderator_id platform_user_id severity_score behaviour_score context created_at",
    "action_events": "action_id event_id moderator_id platform_user_id evaluation_id action_type action_params "
    "context status error_msg reason created_at updated_at executed_at",
}


class LegacyDatabase:
    def __init__(self, url: str, connect):
        self.url, self.connect = url, connect

    def query(self, sql, params=None):
        with self.connect() as db:
            return db.execute(sql, params).fetchall()

    def manage(self, *args, key: str | None = LEGACY_KEY, **extra_env):
        env = {**os.environ, "DATABASE_URL": self.url, **extra_env}
        env.pop("GOVA_LEGACY_ENCRYPTION_KEY", None)
        if key is not None:
            env["GOVA_LEGACY_ENCRYPTION_KEY"] = key
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=600
        )

    def django(self, code: str, **extra_env) -> dict:
        """Run `code` in `manage.py shell` on this database; it prints one JSON document."""
        result = self.manage("shell", "-c", code, **extra_env)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    def checksums(self) -> dict:
        """md5 over every row of each legacy table, in key order, without the converted columns."""
        sums = {}
        for table, columns in LEGACY_COLUMNS.items():
            row = "ROW(" + ", ".join(columns.split()) + ")::text"
            key = columns.split()[0] if table != "action_events" else "action_id"
            [(count, digest)] = self.query(f"SELECT count(*), md5(string_agg({row}, '|' ORDER BY {key})) FROM {table}")
            sums[table] = (count, digest)
        return sums

    def catalog(self) -> list:
        """Every column, constraint, index and trigger: a dry run must leave all of them alone."""
        return self.query(
            "SELECT 'column', table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || "
            "coalesce(column_default, '') FROM information_schema.columns WHERE table_schema = 'public' "
            "UNION ALL SELECT 'constraint', conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace "
            "UNION ALL SELECT 'index', indexname FROM pg_indexes WHERE schemaname = 'public' "
            "UNION ALL SELECT 'trigger', tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2"
        )

    def stored(self, user) -> tuple:
        [row] = self.query("SELECT password, discord_oauth_payload FROM users WHERE user_id = %s", [user.user_id])
        return row


@pytest.fixture
def legacy_db(scratch_database):
    """A database of the old service at its Alembic head, filled, on the test server; dropped afterwards."""
    database = LegacyDatabase(*scratch_database)
    with database.connect() as db:
        create_legacy_schema(db)
        fill(db)
    return database
