"""One migrate at a time per database, with session settings that keep production traffic moving.

The lock is a session-level advisory lock: migrations commit one by one and concurrent index builds
run outside any transaction, so a transaction-level lock would be released too early. It needs a
direct connection to PostgreSQL: behind a transaction-pooling PgBouncer, session state (the lock,
lock_timeout) does not stay with the client.
"""

import hashlib
import time
from contextlib import contextmanager

from django.conf import settings
from django.core.management.base import CommandError
from django.db import DatabaseError, OperationalError

# A fixed 64-bit key: every process of every version of this project contends for the same lock.
MIGRATION_LOCK_KEY = int.from_bytes(hashlib.sha256(b"gova.migrate").digest()[:8], "big", signed=True)
POLL_SECONDS = 0.5
LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of a lock_timeout expiry
DISK_FULL = "53100"  # SQLSTATE of a full disk, and of a full /dev/shm ("could not resize shared memory segment")


@contextmanager
def migration_session(connection, *, dry_run: bool = False):
    """Hold the migration lock and the fail-fast session settings for the duration of the block."""
    if dry_run or connection.vendor != "postgresql":
        yield
        return
    _acquire(connection, settings.GOVA_MIGRATE_LOCK_WAIT)
    try:
        with connection.cursor() as cursor:
            # Fail fast instead of queueing behind traffic: a waiting ALTER blocks every query behind it.
            cursor.execute("SELECT set_config('lock_timeout', %s, false)", [settings.GOVA_MIGRATION_LOCK_TIMEOUT])
            # Index builds (HNSW above all) are many times faster with memory and parallel workers.
            cursor.execute(
                "SELECT set_config('maintenance_work_mem', %s, false)", [settings.GOVA_MIGRATION_MAINTENANCE_WORK_MEM]
            )
            cursor.execute(
                "SELECT set_config('max_parallel_maintenance_workers', %s, false)",
                [str(settings.GOVA_MIGRATION_MAINTENANCE_WORKERS)],
            )
        yield
    except OperationalError as exc:
        if hint := shared_memory_full(exc):
            raise CommandError(f"{hint}; migrations applied before it stay applied, then run migrate again") from None
        if not is_lock_timeout(exc):
            raise
        raise CommandError(
            f"a migration waited longer than lock_timeout ({settings.GOVA_MIGRATION_LOCK_TIMEOUT}) for a table "
            "lock that traffic holds, and stopped; migrations applied before it stay applied, an atomic one that "
            "failed was rolled back. Retry at a quieter moment, or raise GOVA_MIGRATION_LOCK_TIMEOUT."
        ) from None
    finally:
        _release(connection)


def is_lock_timeout(exc: OperationalError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE


def shared_memory_full(exc: DatabaseError) -> str | None:
    """What to do when a parallel index build ran out of the server's /dev/shm (None for any other error).

    A parallel build takes up to maintenance_work_mem there; Docker's default /dev/shm is 64 MB, and PostgreSQL's
    message reads like a full disk.
    """
    cause = exc.__cause__ or exc
    if getattr(cause, "sqlstate", None) != DISK_FULL or "shared memory segment" not in str(cause):
        return None
    return (
        "the database server ran out of shared memory (/dev/shm) for a parallel index build, which takes up to "
        f"maintenance_work_mem (GOVA_MIGRATION_MAINTENANCE_WORK_MEM={settings.GOVA_MIGRATION_MAINTENANCE_WORK_MEM}): "
        "under Docker raise the db service's shm_size (GOVA_DB_SHM_SIZE) above it, or lower that setting or "
        "GOVA_MIGRATION_MAINTENANCE_WORKERS (0 builds without parallel workers)"
    )


def _release(connection) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout; RESET maintenance_work_mem; RESET max_parallel_maintenance_workers")
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
    except DatabaseError:
        pass  # a broken connection took its session, and the lock, with it


def _acquire(connection, wait_seconds: float) -> None:
    deadline = time.monotonic() + wait_seconds
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
            if cursor.fetchone()[0]:
                return
        if time.monotonic() >= deadline:
            raise CommandError(
                f"another migrate or rollback has held the migration lock on database "
                f"{connection.settings_dict['NAME']!r} for over {wait_seconds:g} s; nothing was changed. "
                "Retry when it finishes (GOVA_MIGRATE_LOCK_WAIT sets the wait)."
            )
        time.sleep(POLL_SECONDS)
