"""Backups of the event tables: one self-describing tar file per run.

events-<UTC snapshot time>.tar holds
  manifest.json         format version, snapshot time, database, server version, the migrations
                        applied at the snapshot (the schema the backup restores onto), and per
                        table its row count, columns in order (with types) and the SHA-256 of its
                        data member
  <table>.copy.gz       the table's rows in COPY text format, gzipped

Text rather than binary COPY: it loads into any PostgreSQL/pgvector version and can be read with zcat.
Rows go from the server to disk (and back) in chunks, so a table never has to fit in memory.
"""

import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from django.conf import settings
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from dbops.event_tables import EVENT_TABLES, has_rows

FORMAT = "gova-events-backup"
# 2 records the applied migrations; version 1 backups still restore, but never count as fresh for the guard.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
MANIFEST = "manifest.json"
CHUNK_SIZE = 1024 * 1024
# zlib's own default, as pg_dump uses. gzip.open's default of 9 took 3x as long on embeddings for 2% less.
COMPRESS_LEVEL = 6
PROGRESS_INTERVAL = 0.5  # seconds between progress lines: enough to see it move, not enough to flood a log

# progress(table, rows so far, rows expected or None, done)
Progress = Callable[[str, int, int | None, bool], None]


class BackupError(CommandError):
    """A backup that cannot be written, read or trusted. The message is one line for the operator."""


@dataclass
class BackupResult:
    path: Path
    sha256: str
    rows: dict[str, int]


def create_backup(tables: Iterable[str], output_dir, *, progress: Progress | None = None) -> BackupResult:
    """Write one backup of `tables` (a subset of EVENT_TABLES) into `output_dir` and return where it is.

    All tables are read in one REPEATABLE READ snapshot, so the action_events copy never refers to an
    evaluation the evaluation_events copy lacks. The tar only appears under its final name once complete.
    """
    tables = [table for table in EVENT_TABLES if table in set(tables)]
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    # Same file system as the result, so the final rename is atomic; removed with its contents on failure.
    with tempfile.TemporaryDirectory(dir=output_dir, prefix=".partial-") as work:
        work = Path(work)
        with _snapshot(), connection.cursor() as cursor:
            cursor.execute("SELECT now(), current_database(), current_setting('server_version')")
            created_at, database, server_version = cursor.fetchone()
            # Read in the same snapshot as the rows: the schema these rows belong to.
            cursor.execute("SELECT app || '.' || name FROM django_migrations ORDER BY app, name")
            applied_migrations = [row[0] for row in cursor.fetchall()]
            entries = {}
            for table in tables:
                columns = _live_columns(cursor, table)
                data_path = work / _member_name(table)
                rows = _copy_out(cursor, table, list(columns), data_path, progress)
                with open(data_path, "rb") as data:
                    digest = hashlib.file_digest(data, "sha256").hexdigest()
                entries[table] = {"rows": rows, "columns": list(columns), "column_types": columns, "sha256": digest}
        created_at = created_at.astimezone(UTC)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": created_at.isoformat(),
            "database": database,
            "server_version": server_version,
            "copy_format": "text",
            "migrations": applied_migrations,
            "tables": entries,
        }
        name = f"events-{created_at:%Y%m%dT%H%M%S.%fZ}.tar"
        _write_tar(work / name, manifest, work, created_at)
        path = output_dir / name
        os.replace(work / name, path)
    with open(path, "rb") as archive:
        sha256 = hashlib.file_digest(archive, "sha256").hexdigest()
    return BackupResult(path=path, sha256=sha256, rows={table: entry["rows"] for table, entry in entries.items()})


def read_manifest(path) -> dict:
    """The manifest of the backup at `path`, checked for format and version; BackupError if unreadable.

    Data members are not hashed here: see verify_backup().
    """
    try:
        with tarfile.open(path, "r:") as tar, _member(tar, MANIFEST) as member:
            manifest = json.load(member)
    except FileNotFoundError:
        raise BackupError(f"{path}: no such backup file") from None
    except (OSError, EOFError, tarfile.TarError, ValueError) as exc:  # ValueError: bad JSON or UTF-8
        raise BackupError(f"{path}: not a readable backup, corrupt or truncated ({exc})") from None
    if not _is_valid_manifest(manifest):
        raise BackupError(f"{path}: manifest is not a valid {FORMAT} manifest (versions {READABLE_VERSIONS})")
    return manifest


def verify_backup(path) -> dict:
    """The manifest of the backup at `path` once every data member matches its SHA-256; BackupError otherwise."""
    manifest = read_manifest(path)
    try:
        with tarfile.open(path, "r:") as tar:
            for table, entry in manifest["tables"].items():
                with _member(tar, _member_name(table)) as data:
                    digest = hashlib.file_digest(data, "sha256").hexdigest()
                if digest != entry["sha256"]:
                    raise BackupError(f"{path}: {table} data fails its SHA-256 check, the backup is corrupt")
    except (OSError, EOFError, tarfile.TarError) as exc:
        raise BackupError(f"{path}: not a readable backup, corrupt or truncated ({exc})") from None
    return manifest


def restore_backup(path, *, truncate: bool = False, progress: Progress | None = None) -> dict[str, int]:
    """Load the backup at `path` into the event tables in one transaction; return the rows loaded per table.

    Checksums and columns are checked before anything is written. Tables must be empty unless `truncate`,
    which empties them in the same transaction. Any failure leaves the tables as they were.
    """
    manifest = verify_backup(path)
    tables = [table for table in EVENT_TABLES if table in manifest["tables"]]
    listed = ", ".join(connection.ops.quote_name(table) for table in tables)
    loaded = {}
    try:
        with transaction.atomic(), connection.cursor() as cursor, tarfile.open(path, "r:") as tar:
            # EXCLUSIVE lets readers in but keeps writers out between the emptiness check and the load.
            cursor.execute(f"LOCK TABLE {listed} IN EXCLUSIVE MODE")
            for table in tables:
                _check_columns(cursor, path, table, manifest["tables"][table])
            if truncate:
                cursor.execute(f"TRUNCATE {listed}")
            else:
                filled = [table for table in tables if has_rows(cursor, table)]
                if filled:
                    raise BackupError(
                        f"{', '.join(filled)} not empty: nothing restored (--truncate replaces the rows in them)"
                    )
            vector_indexes = _drop_vector_indexes(cursor, tables)
            for table in tables:
                expected = manifest["tables"][table]["rows"]
                loaded[table] = _copy_in(cursor, tar, table, manifest["tables"][table]["columns"], expected, progress)
                if loaded[table] != expected:
                    raise BackupError(f"{path}: {table} held {loaded[table]} rows, the manifest says {expected}")
            # The foreign keys are DEFERRABLE INITIALLY DEFERRED: check them here rather than at commit
            # (and before the index build, which PostgreSQL refuses while their checks are pending).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            _rebuild_indexes(cursor, vector_indexes)
    except (DatabaseError, psycopg.Error) as exc:
        # DETAIL lines follow the first, and a rejected value (a whole vector) can make it very long.
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BackupError(f"restore failed, nothing changed: {textwrap.shorten(first_line, 300)}") from exc
    except (OSError, EOFError, tarfile.TarError) as exc:
        raise BackupError(f"{path}: unreadable during restore, nothing changed ({exc})") from exc
    return loaded


def _drop_vector_indexes(cursor, tables) -> list[str]:
    """Drop the HNSW/IVFFlat indexes of `tables` (inside the restore's transaction) and return their definitions.

    Inserting row by row into an HNSW index made a 30,000-row restore take 5 minutes; one build after
    the load is two orders of magnitude faster. A failed restore rolls the drop back with everything else.
    """
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
        "WHERE i.indrelid = ANY(%s::regclass[]) AND am.amname IN ('hnsw', 'ivfflat')",
        [list(tables)],
    )
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    return [definition for _, definition in indexes]


def _rebuild_indexes(cursor, definitions) -> None:
    if definitions:
        # The same memory migrations get for index builds (settings.GOVA_MIGRATION_MAINTENANCE_WORK_MEM).
        cursor.execute(
            "SELECT set_config('maintenance_work_mem', %s, true)", [settings.GOVA_MIGRATION_MAINTENANCE_WORK_MEM]
        )
    for definition in definitions:
        cursor.execute(definition)


def fresh_backup(table: str, backup_dir, *, applied: set[str], max_age: timedelta) -> Path | None:
    """The newest backup in `backup_dir` that holds `table`, was taken with exactly the `applied`
    migrations ("app.name") and is younger than `max_age`; else None.

    The migrations, not the files' modification times, tie a backup to a schema: a fresh clone or an
    image build resets every mtime. A backup counts when its manifest reads; its data is not re-hashed
    here (restore does that), since this would otherwise read every byte of every backup.
    """
    oldest = datetime.now(UTC) - max_age
    found = []
    for path in Path(backup_dir).glob("*.tar"):
        try:
            manifest = read_manifest(path)
        except BackupError:
            continue
        created_at = datetime.fromisoformat(manifest["created_at"])
        if (
            table in manifest["tables"]
            and set(manifest.get("migrations", ())) == applied  # version 1 recorded none: never fresh
            and created_at >= oldest
        ):
            found.append((created_at, path))
    return max(found)[1] if found else None


def progress_printer(stderr) -> Progress:
    """A Progress that keeps one carriage-return line per table on a management command's stderr."""
    shown_at = 0.0

    def show(table: str, rows: int, expected: int | None, done: bool) -> None:
        nonlocal shown_at
        now = time.monotonic()
        if not done and now - shown_at < PROGRESS_INTERVAL:
            return
        shown_at = now
        of = f" (expected {expected:,})" if expected is not None else ""
        stderr.write(f"\r{table}: {rows:,} rows{of}", ending="\n" if done else "")
        stderr.flush()

    return show


# -- helpers -----------------------------------------------------------------------------------------


@contextmanager
def _snapshot():
    """One REPEATABLE READ, READ ONLY transaction for the whole backup.

    Inside a caller's transaction (a test wrapped in one, say) queries have already run and the level
    can no longer be set: the caller's transaction is used as it is.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def _is_valid_manifest(manifest) -> bool:
    try:
        return (
            manifest["format"] == FORMAT
            and manifest["format_version"] in READABLE_VERSIONS
            and isinstance(manifest.get("migrations", []), list)
            and datetime.fromisoformat(manifest["created_at"]).tzinfo is not None
            and set(manifest["tables"]) <= set(EVENT_TABLES)
            and all(
                isinstance(entry["rows"], int)
                and isinstance(entry["sha256"], str)
                and isinstance(entry["column_types"], dict)
                and set(entry["columns"]) == set(entry["column_types"])
                for entry in manifest["tables"].values()
            )
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        return False


def _member_name(table: str) -> str:
    return f"{table}.copy.gz"


def _member(tar: tarfile.TarFile, name: str):
    try:
        member = tar.extractfile(name)
    except KeyError:
        member = None
    if member is None:
        raise BackupError(f"{tar.name}: {name} is missing, the backup is truncated or corrupt")
    return member


def _live_columns(cursor, table: str) -> dict[str, str]:
    """The table's columns in order, with their types as format_type() spells them."""
    cursor.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [table],
    )
    return dict(cursor.fetchall())


def _check_columns(cursor, path, table: str, entry: dict) -> None:
    live = _live_columns(cursor, table)
    saved = {column: entry["column_types"][column] for column in entry["columns"]}
    if saved == live:
        return
    only_saved = [f"{column} {kind}" for column, kind in saved.items() if live.get(column) != kind]
    only_live = [f"{column} {kind}" for column, kind in live.items() if saved.get(column) != kind]
    raise BackupError(
        f"{path}: {table} columns differ from the live table "
        f"(backup only: {', '.join(only_saved) or 'none'}; table only: {', '.join(only_live) or 'none'})"
    )


def _estimated_rows(cursor, table: str) -> int | None:
    # The planner's estimate: count(*) would read the whole table once more just for a progress line.
    cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [table])
    estimate = cursor.fetchone()[0]
    return estimate if estimate >= 0 else None  # -1: never vacuumed or analyzed


def _copy_sql(table: str, columns: list[str], direction: str) -> str:
    # Columns named explicitly: a table whose columns are in another order still lines up.
    quote = connection.ops.quote_name
    return f"COPY {quote(table)} ({', '.join(quote(column) for column in columns)}) {direction}"


def _copy_out(cursor, table: str, columns: list[str], path: Path, progress: Progress | None) -> int:
    expected = _estimated_rows(cursor, table)
    rows = 0
    with (
        gzip.open(path, "wb", compresslevel=COMPRESS_LEVEL) as data,
        cursor.copy(_copy_sql(table, columns, "TO STDOUT")) as copy,
    ):
        for chunk in copy:
            data.write(chunk)
            # Text format ends every row with a newline and escapes the ones inside values.
            rows += bytes(chunk).count(b"\n")
            if progress:
                progress(table, rows, expected, False)
    if progress:
        progress(table, rows, expected, True)
    return rows


def _copy_in(cursor, tar, table: str, columns: list[str], expected: int, progress: Progress | None) -> int:
    rows = 0
    with (
        gzip.open(_member(tar, _member_name(table)), "rb") as data,
        cursor.copy(_copy_sql(table, columns, "FROM STDIN")) as copy,
    ):
        while chunk := data.read(CHUNK_SIZE):
            copy.write(chunk)
            rows += chunk.count(b"\n")
            if progress:
                progress(table, rows, expected, False)
    if progress:
        progress(table, rows, expected, True)
    return cursor.rowcount  # the server's count, not the newlines seen


def _write_tar(path: Path, manifest: dict, work: Path, created_at: datetime) -> None:
    def add(tar, name, fileobj, size):
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, int(created_at.timestamp()), 0o600
        tar.addfile(info, fileobj)

    encoded = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
    path.touch(mode=0o600)  # owner-only from the start: the events hold users' messages
    with tarfile.open(path, "w") as tar:
        # Manifest first: `tar tvf` or a streaming reader learns what the archive holds before the data.
        add(tar, MANIFEST, io.BytesIO(encoded), len(encoded))
        for table in manifest["tables"]:
            member = work / _member_name(table)
            with open(member, "rb") as data:
                add(tar, member.name, data, member.stat().st_size)
