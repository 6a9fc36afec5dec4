"""A parallel index build that outgrows the server's /dev/shm (Docker's default is 64 MB) fails with a message
that reads like a full disk; migrate and fold_embeddings say what it is and what to change."""

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError, connection

from dbops.locking import migration_session, shared_memory_full

pytestmark = pytest.mark.django_db

SHM_MESSAGE = (
    'could not resize shared memory segment "/PostgreSQL.1112019128" to 1073741824 bytes: No space left on device'
)


def as_django_raises(cause: Exception) -> OperationalError:
    """The error as Django's cursor raises it: its own class, psycopg's error as the cause."""
    error = OperationalError(str(cause))
    error.__cause__ = cause
    return error


def test_only_a_full_shared_memory_gets_the_hint():
    hint = shared_memory_full(as_django_raises(psycopg.errors.DiskFull(SHM_MESSAGE)))
    assert "GOVA_DB_SHM_SIZE" in hint and "GOVA_MIGRATION_MAINTENANCE_WORK_MEM=1GB" in hint
    assert shared_memory_full(as_django_raises(psycopg.errors.DiskFull("could not extend file: No space"))) is None
    assert shared_memory_full(as_django_raises(psycopg.errors.LockNotAvailable(SHM_MESSAGE))) is None


def test_migrate_says_what_ran_out():
    with pytest.raises(CommandError, match=r"shared memory \(/dev/shm\).*then run migrate again"):
        with migration_session(connection):
            raise as_django_raises(psycopg.errors.DiskFull(SHM_MESSAGE))
    with connection.cursor() as cursor:  # the session settings and the migration lock were released
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        assert cursor.fetchone()[0] == 0


def test_fold_embeddings_says_what_ran_out(monkeypatch):
    def fold(**kwargs):
        raise as_django_raises(psycopg.errors.DiskFull(SHM_MESSAGE))

    monkeypatch.setattr("moderation.management.commands.fold_embeddings.evaluation_embeddings_fold", fold)
    with pytest.raises(CommandError, match=r"GOVA_DB_SHM_SIZE.*fold again"):
        call_command("fold_embeddings", "--lag", "0")
