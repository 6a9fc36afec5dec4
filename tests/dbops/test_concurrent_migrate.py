"""Several containers start at once and all run migrate: the advisory lock makes that safe."""

import os
import subprocess
import sys

from dbops.locking import MIGRATION_LOCK_KEY
from tests.conftest import PROJECT_DIR

PARALLEL_MIGRATES = 8


def start_migrate(url, extra_env=None):
    return subprocess.Popen(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=PROJECT_DIR,
        env={**os.environ, "DATABASE_URL": url, **(extra_env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_parallel_migrates_on_a_fresh_database_all_succeed_and_apply_each_migration_once(fresh_database):
    url, connect = fresh_database
    processes = [start_migrate(url) for _ in range(PARALLEL_MIGRATES)]
    results = [(process.wait(timeout=600), *process.communicate()) for process in processes]
    failures = [stderr for code, _, stderr in results if code != 0]
    assert not failures, failures[0]
    applied_by = [stdout.count("Applying ") for _, stdout, _ in results]
    with connect() as db:
        rows, distinct = db.execute("SELECT count(*), count(DISTINCT (app, name)) FROM django_migrations").fetchone()
    assert rows == distinct and rows > 0
    # One process did the work, the others found nothing to do.
    assert sorted(applied_by)[-1] == rows and sum(applied_by) == rows


def test_migrate_gives_up_with_a_clear_message_when_the_lock_stays_taken(fresh_database):
    url, connect = fresh_database
    with connect() as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        process = start_migrate(url, {"GOVA_MIGRATE_LOCK_WAIT": "1"})
        code, (_, stderr) = process.wait(timeout=120), process.communicate()
        assert code == 1
        assert "held the migration lock" in stderr and "nothing was changed" in stderr
        assert "Traceback" not in stderr
        tables = holder.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
    assert tables == 0
