"""Take over a database of the old Alembic service in place, and hand it back (`manage.py adopt_alembic_db`).

Adoption, in one transaction under the migration lock: check the legacy schema, refuse rows our constraints
would reject, lock the legacy tables (the old service's writes wait), convert password hashes and OAuth payloads
(not with GOVA_LEGACY_FORMATS=true: the old service keeps reading them), bridge the schema to what our baseline
migrations (takeover.legacy_schema.BASELINE_TARGETS) build and record those migrations, compare every table's
fingerprint before and after. Later migrations then run as a plain `migrate` would run them. Revert undoes the
migrations after the baseline, then bridges back to the legacy schema and formats in one transaction.

The bridge's DDL is not written by hand: it is derived (takeover.schema_bridge) from a scratch database built by
the baseline migrations (or the legacy DDL), so the result is what `schema_check` compares against.
"""

import json
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.apps import apps
from django.conf import settings
from django.core.management.base import CommandError
from django.db import DatabaseError, OperationalError, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import CheckConstraint

from accounts import legacy_formats
from accounts.fields import DecryptionError
from accounts.models import User
from dbops.locking import is_lock_timeout
from dbops.operations import uuidv7_fallback_sql
from dbops.schema_check import read_catalog, scratch_database
from takeover.legacy_schema import (
    ADOPT_COMMAND,
    BASELINE_TARGETS,
    LEGACY_DDL,
    LEGACY_HEAD,
    LEGACY_TABLES,
    database_state,
)
from takeover.schema_bridge import Bridge, bridge

BATCH_SIZE = 1000
# Columns whose values the conversion rewrites: left out of the before/after fingerprints.
CONVERTED_COLUMNS = {"users": {"password", "discord_oauth_payload"}}
VIOLATIONS_SHOWN = 20
SLOW_STATEMENT_SECONDS = 1.0


class AdoptionRefused(CommandError):
    """Nothing was changed; the message says why and what to do."""


class NothingToDo(Exception):
    """The database is already where the command would take it."""


@dataclass
class Plan:
    direction: str  # "adopt" or "revert"
    bridge: Bridge
    convert: bool = True  # adopt: False with GOVA_LEGACY_FORMATS=true, which keeps the old service's formats
    migrations_to_record: list = field(default_factory=list)  # adopt: (app, name) of the baseline
    migrations_to_undo: list = field(default_factory=list)  # revert: migrations after the baseline
    passwords: int = 0  # hashes converted
    passwords_left: list = field(default_factory=list)  # user ids whose hash is not convertible
    payloads: dict = field(default_factory=dict)  # kind -> count
    unreadable_payloads: list = field(default_factory=list)  # (user id, reason)
    row_counts: dict = field(default_factory=dict)
    legacy_catalog: dict = field(default_factory=dict)  # the Alembic head's schema, for fingerprints
    dropped_values: list = field(default_factory=list)  # revert: (table or column, rows with a value)


# -- checks --------------------------------------------------------------------------------


def legacy_revision(connection) -> list:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version_num FROM alembic_version")
        return [row[0] for row in cursor.fetchall()]


def project_tables() -> set:
    """Tables this project's migrations create: those of every model, and Django's migration records."""
    return {model._meta.db_table for model in apps.get_models(include_auto_created=True)} | {"django_migrations"}


def legacy_schema_differences(live: dict, legacy_catalog: dict, baseline: dict) -> list[str]:
    """Tables, columns, types and nullability of the live database against the Alembic head's.

    Index and constraint names are not compared: the bridge renames or rebuilds whatever it finds.
    Tables of this project's (a migrate that stopped half-way, or a `migrate --fake-initial`, made some)
    are allowed; any other table is not.
    """
    ours = project_tables()
    differences = []
    for key, wanted in legacy_catalog.items():
        if wanted.kind not in {"table", "column"}:
            continue
        found = live.get(key)
        label = wanted.group if wanted.kind == "table" else f"{wanted.group}.{wanted.name}"
        if found is None:
            if wanted.kind == "table" or (wanted.group, "table", wanted.group) in live:
                differences.append(f"- {wanted.kind} {label}: missing ({wanted.summary})")
            continue
        if wanted.kind == "column":
            for attribute in ("type", "nullability"):
                if found.attributes[attribute] != wanted.attributes[attribute]:
                    differences.append(
                        f"~ column {label}: {attribute} {found.attributes[attribute]} "
                        f"(expected {wanted.attributes[attribute]})"
                    )
    for key, found in live.items():
        if found.kind == "table" and key not in legacy_catalog and key not in baseline and found.group not in ours:
            differences.append(f"+ table {found.group}: not part of the old service's schema")
        if found.kind == "column" and found.group in LEGACY_TABLES and key not in legacy_catalog:
            differences.append(f"+ column {found.group}.{found.name}: not in the old service's schema")
    return sorted(differences)


@dataclass(frozen=True)
class Violation:
    table: str
    constraint: str
    rows: int
    keys: list  # primary keys of the first rows
    where: str  # selects the offending rows


def find_violations(connection, bridge_: Bridge, live: dict) -> list[Violation]:
    """Rows that a constraint or NOT NULL the bridge adds would reject."""
    quote = connection.ops.quote_name
    violations = []
    with connection.cursor() as cursor:
        for statement in bridge_.statements:
            if not statement.validates:
                continue
            kind, table = statement.validates[0], statement.validates[1]
            if kind == "not null":
                column = statement.validates[2]
                name, where = f"{column} NOT NULL", f"{quote(column)} IS NULL"
            else:
                name, definition, (columns, referenced_table, referenced_columns) = statement.validates[2:]
                if any((table, "column", column) not in live for column in columns):
                    continue  # a column the bridge adds, filled with its default
                where = _violation_filter(kind, definition, table, columns, referenced_table, referenced_columns, quote)
            primary_key = _primary_key(cursor, table)
            cursor.execute(
                f"SELECT count(*) OVER (), {primary_key}::text FROM {quote(table)} t WHERE {where} "
                f"ORDER BY 2 LIMIT {VIOLATIONS_SHOWN}"
            )
            rows = cursor.fetchall()
            if rows:
                violations.append(Violation(table, name, rows[0][0], [key for _, key in rows], where))
    return violations


def _violation_filter(kind, definition, table, columns, referenced_table, referenced_columns, quote) -> str:
    """A WHERE clause (rows aliased t) selecting the rows the constraint would reject."""
    if kind == "check constraint":
        # NOT (NULL) selects nothing, as a CHECK lets NULL pass.
        return "NOT " + definition.removeprefix("CHECK ").removesuffix(" NOT VALID")
    if kind == "foreign key":
        join = " AND ".join(f"r.{quote(rc)} = t.{quote(c)}" for c, rc in zip(columns, referenced_columns, strict=True))
        not_null = " AND ".join(f"t.{quote(c)} IS NOT NULL" for c in columns)
        return f"{not_null} AND NOT EXISTS (SELECT 1 FROM {referenced_table} r WHERE {join})"
    # A unique constraint or primary key: every row of a duplicated value (NULLs are distinct).
    column_list = ", ".join(quote(c) for c in columns)
    return f"({column_list}) IN (SELECT {column_list} FROM {quote(table)} GROUP BY {column_list} HAVING count(*) > 1)"


def _primary_key(cursor, table: str) -> str:
    cursor.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = to_regclass(%s) AND i.indisprimary",
        [table],
    )
    columns = [row[0] for row in cursor.fetchall()]
    return "(" + ", ".join(f"t.{c}" for c in columns) + ")" if len(columns) != 1 else f"t.{columns[0]}"


def violations_report(violations: list[Violation]) -> str:
    total = sum(v.rows for v in violations)
    lines = [
        f"refusing to adopt: {total} row(s) break constraints the Django schema adds; nothing was changed.",
        "table / constraint / rows / primary keys (first ones):",
    ]
    for v in violations:
        lines.append(f"  {v.table}  {v.constraint}  {v.rows}  {', '.join(v.keys)}")
    lines.append(
        "With the old service stopped, export them and then correct (UPDATE) or remove them, "
        "in `python manage.py dbshell`:"
    )
    for v in violations:
        lines.append(
            f"  \\copy (SELECT * FROM {v.table} t WHERE {v.where}) TO '{v.table}-{v.constraint.replace(' ', '_')}.csv' "
            "CSV HEADER"
        )
        lines.append(f"  DELETE FROM {v.table} t WHERE {v.where};")
    lines.append(f"then run `{ADOPT_COMMAND}` again.")
    return "\n".join(lines)


# -- fingerprints ----------------------------------------------------------------------------


def table_fingerprints(connection, columns_by_table: dict) -> dict:
    """table -> (rows, order-independent sum of per-row md5) over the given columns.

    Constant memory on any table size, unlike string_agg over the whole table.
    """
    quote = connection.ops.quote_name
    fingerprints = {}
    with connection.cursor() as cursor:
        for table, columns in sorted(columns_by_table.items()):
            row = "ROW(" + ", ".join(quote(c) for c in sorted(columns)) + ")::text"
            cursor.execute(
                f"SELECT count(*), coalesce(sum(('x' || left(md5({row}), 15))::bit(60)::bigint::numeric), 0) "
                f"FROM {quote(table)}"
            )
            fingerprints[table] = tuple(cursor.fetchone())
    return fingerprints


def _kept_columns(legacy_catalog: dict, *, convert: bool) -> dict:
    """The columns whose values must come out as they went in: all of them when nothing is converted."""
    converted = CONVERTED_COLUMNS if convert else {}
    columns = {}
    for obj in legacy_catalog.values():
        if obj.kind == "column" and obj.group in LEGACY_TABLES and obj.name not in converted.get(obj.group, ()):
            columns.setdefault(obj.group, set()).add(obj.name)
    return columns


# -- scratch schemas ---------------------------------------------------------------------------


def build_legacy_schema(scratch) -> None:
    with scratch.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
        cursor.execute("SELECT to_regprocedure('uuidv7()') IS NULL, current_schema()")
        needs_function, schema = cursor.fetchone()
    if needs_function:
        # Before PostgreSQL 18 the old service made its own uuidv7(); the takeover leaves ours in its place.
        with scratch.cursor() as cursor:
            cursor.execute(uuidv7_fallback_sql(scratch.ops.quote_name(schema)))
    with scratch.cursor() as cursor:
        cursor.execute(LEGACY_DDL)


def baseline_plan(executor: MigrationExecutor) -> list:
    return [migration for migration, _ in executor.migration_plan(BASELINE_TARGETS, clean_start=True)]


def build_baseline_schema(scratch, recorded: set) -> list:
    """Run the baseline migrations on the scratch database, and the later ones the live database already
    records (a `migrate --fake-initial` ran them for real): the schema the live one must be bridged to.
    Returns the baseline's (app, name) in order."""
    executor = MigrationExecutor(scratch)
    migrations = [(m.app_label, m.name) for m in baseline_plan(executor)]
    wanted = set(migrations) | recorded
    full_plan = executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)
    executor.migrate(None, plan=[(m, False) for m, _ in full_plan if (m.app_label, m.name) in wanted])
    return migrations


def baseline_check_sql(connection, recorded: set) -> dict:
    """(table, name) -> "CHECK (...)" for every check constraint of the baseline (and of the later migrations
    already recorded), as its migration wrote it."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    nodes = list(BASELINE_TARGETS) + [key for key in recorded if key in loader.graph.nodes]
    state = loader.project_state(nodes)
    schema_editor = connection.SchemaEditorClass(connection, collect_sql=True)
    checks = {}
    for model in state.apps.get_models():
        for constraint in model._meta.constraints:
            if isinstance(constraint, CheckConstraint):
                expression = constraint._get_check_sql(model, schema_editor)
                checks[(model._meta.db_table, constraint.name)] = f"CHECK ({expression})"
    return checks


def legacy_catalog(connection) -> dict:
    with scratch_database(connection) as scratch:
        build_legacy_schema(scratch)
        return read_catalog(scratch)


# -- conversions -------------------------------------------------------------------------------


def _payload_field():
    return User._meta.get_field("discord_oauth_payload")


def _payload_rows(connection, progress: Callable | None = None):
    """Batches of (user id, stored payload), keyset-paged so a large table is never loaded at once."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM users WHERE discord_oauth_payload IS NOT NULL")
        total = cursor.fetchone()[0]
        last, done = None, 0
        while True:
            cursor.execute(
                "SELECT user_id::text, discord_oauth_payload FROM users WHERE discord_oauth_payload IS NOT NULL "
                + ("AND user_id > %s::uuid " if last else "")
                + f"ORDER BY user_id LIMIT {BATCH_SIZE}",
                [last] if last else [],
            )
            batch = cursor.fetchall()
            if not batch:
                return
            yield batch
            done += len(batch)
            last = batch[-1][0]
            if progress and total > BATCH_SIZE:
                progress(f"  users.discord_oauth_payload: {done}/{total}")


def payloads_to_django(connection, key: bytes | None, *, write: bool, progress=None) -> tuple[dict, list]:
    """Legacy envelopes and plain JSON become EncryptedJSONField tokens; what nothing opens stays as it is."""
    field = _payload_field()
    counts = {"encrypted": 0, "plaintext": 0}
    unreadable = []
    for batch in _payload_rows(connection, progress):
        updates = []
        for user_id, stored in batch:
            try:
                document, kind = legacy_formats.payload_open(stored, user_id=user_id, key=key)
            except legacy_formats.UnreadablePayload as exc:
                if not _is_ours(field, stored):  # written by this project before (a `migrate --fake-initial`)
                    unreadable.append((user_id, str(exc)))
                continue
            counts[kind] += 1
            updates.append((field.get_prep_value(document), user_id))
        if write and updates:
            with connection.cursor() as cursor:
                cursor.executemany("UPDATE users SET discord_oauth_payload = %s WHERE user_id = %s::uuid", updates)
    return counts, unreadable


def _is_ours(field, stored: str) -> bool:
    if field.stored_format(stored) != "fernet":
        return False
    try:
        field.decrypt(stored)
    except DecryptionError:
        return False
    return True


def payloads_to_legacy(connection, key: bytes | None, *, write: bool, progress=None) -> tuple[dict, list]:
    """Our tokens become the old service's AES-GCM envelopes (aad = user id); payloads in its formats already
    (GOVA_LEGACY_FORMATS=true writes them) stay, and so does what no key opens."""
    field = _payload_field()
    counts = {"re-encrypted for the old service": 0, "in its format already": 0}
    unreadable = []
    for batch in _payload_rows(connection, progress):
        updates = []
        for user_id, stored in batch:
            if field.stored_format(stored) != "fernet":
                counts["in its format already"] += 1
                continue
            try:
                document = json.loads(field.decrypt(stored))
            except DecryptionError:
                unreadable.append((user_id, "no configured key opens it"))
                continue
            counts["re-encrypted for the old service"] += 1
            if key is not None:
                updates.append((legacy_formats.payload_seal(document, user_id=user_id, key=key), user_id))
        if write and updates:
            with connection.cursor() as cursor:
                cursor.executemany("UPDATE users SET discord_oauth_payload = %s WHERE user_id = %s::uuid", updates)
    return counts, unreadable


def _count(connection, sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def _ids(connection, sql: str) -> list:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


PASSWORDS_TO_DJANGO = "UPDATE users SET password = 'argon2' || password WHERE password LIKE '$argon2id$%'"
PASSWORDS_TO_LEGACY = "UPDATE users SET password = substr(password, 7) WHERE password LIKE 'argon2$argon2id$%'"
# Hashes neither side can verify without a password reset: not argon2id in either form.
UNCONVERTIBLE_PASSWORDS = (
    "SELECT user_id::text FROM users WHERE password NOT LIKE '$argon2id$%' AND password NOT LIKE 'argon2$argon2id$%' "
    "ORDER BY user_id"
)
# The old service's writes wait for these, children first: a writer holding a child table's lock only goes on to
# take its parents' (foreign key checks), so it finishes instead of deadlocking with the adoption.
LOCK_LEGACY_TABLES = "LOCK TABLE action_events, evaluation_events, moderators, users IN ACCESS EXCLUSIVE MODE"


def _require_key_for_payloads(connection, key, *, verb: str) -> None:
    if key is not None:
        return
    payloads = _payload_count(connection)
    if payloads:
        raise AdoptionRefused(
            f"{payloads} user(s) have an OAuth payload and {legacy_formats.LEGACY_KEY_VARIABLE} is not set: "
            f"refusing to {verb} without converting them; nothing was changed. Set it to the old service's "
            "ENCRYPTION_KEY in the environment (never on the command line) and run again."
        )


# -- adopt ---------------------------------------------------------------------------------


def adoption_plan(connection, key: bytes | None) -> Plan:
    """Everything adoption would do; reads only. AdoptionRefused when the database cannot be adopted as it is."""
    state = database_state(connection)
    if state == "adopted":
        raise NothingToDo(
            "nothing to do: this database is already managed by Django migrations "
            "(python manage.py migrate applies any added since)."
        )
    if state == "other":
        raise AdoptionRefused(
            "no database of the old service here (no alembic_version table); nothing was changed. "
            "A new database only needs `python manage.py migrate`."
        )
    revisions = legacy_revision(connection)
    if revisions != [LEGACY_HEAD]:
        raise AdoptionRefused(
            f"alembic_version holds {revisions or 'no revision'}, this command takes over revision {LEGACY_HEAD} "
            "(the old service's head); nothing was changed. Bring the old service to its head first "
            "(alembic upgrade head), then run again."
        )
    live = read_catalog(connection)
    expected_legacy = legacy_catalog(connection)
    recorded = set(MigrationRecorder(connection).applied_migrations()) if _has_migrations_table(connection) else set()
    with scratch_database(connection) as scratch:
        baseline_migrations = build_baseline_schema(scratch, recorded)
        baseline = read_catalog(scratch)
        differences = legacy_schema_differences(live, expected_legacy, baseline)
        if differences:
            raise AdoptionRefused(
                "the schema is not the old service's at revision "
                f"{LEGACY_HEAD}; nothing was changed. Differences (- missing, + unexpected, ~ different):\n  "
                + "\n  ".join(differences)
            )
        # Tables of later migrations that a `migrate --fake-initial` already made (and recorded) are in the
        # scratch schema too; any other table of this project's stays as it is.
        keep = project_tables() - {obj.group for obj in baseline.values()}
        bridge_ = bridge(connection, scratch, check_sql=baseline_check_sql(connection, recorded), keep_tables=keep)
    violations = find_violations(connection, bridge_, live)
    if violations:
        raise AdoptionRefused(violations_report(violations))
    plan = Plan(
        "adopt",
        bridge_,
        migrations_to_record=[m for m in baseline_migrations if m not in recorded],
        convert=not legacy_formats.writes_legacy_formats(),
        passwords=_count(connection, "SELECT count(*) FROM users WHERE password LIKE '$argon2id$%'"),
        passwords_left=_ids(connection, UNCONVERTIBLE_PASSWORDS),
        row_counts={t: _count(connection, f"SELECT count(*) FROM {t}") for t in LEGACY_TABLES},
    )
    if plan.convert:
        plan.payloads, plan.unreadable_payloads = payloads_to_django(connection, key, write=False)
    else:
        plan.payloads = {"in the old service's formats": _payload_count(connection)}
    plan.legacy_catalog = expected_legacy
    return plan


def _has_migrations_table(connection) -> bool:
    return _count(connection, "SELECT count(*) FROM pg_class WHERE oid = to_regclass('django_migrations')") > 0


@contextmanager
def _rolled_back(what: str, aftermath: str):
    """Database errors inside the transaction, said in one line with what happened to the data."""
    try:
        yield
    except OperationalError as exc:
        if not is_lock_timeout(exc):
            raise CommandError(f"{what} failed and was rolled back; {aftermath}: {_first_line(exc)}") from exc
        # Said here rather than by migration_session: the whole transaction is gone, and the writer is the old service.
        raise CommandError(
            f"a table lock was not granted within lock_timeout ({settings.GOVA_MIGRATION_LOCK_TIMEOUT}): something "
            f"still reads or writes these tables. {what} was rolled back; {aftermath}. Stop the old service (and "
            "every other writer) first, or raise GOVA_MIGRATION_LOCK_TIMEOUT."
        ) from None
    except DatabaseError as exc:
        # Typically no right to create the scratch databases (like schema_check), or a statement that failed.
        raise CommandError(f"{what} failed and was rolled back; {aftermath}: {_first_line(exc)}") from exc


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__


def adopt(connection, key: bytes | None, say: Callable) -> Plan:
    """Adopt in one transaction; the caller holds the migration lock and runs later migrations afterwards."""
    with _rolled_back("the adoption", "nothing was changed"), transaction.atomic(using=connection.alias):
        plan = adoption_plan(connection, key)
        if plan.convert:
            _require_key_for_payloads(connection, key, verb="adopt")
        _lock_legacy_tables(connection, say)
        kept = _kept_columns(plan.legacy_catalog, convert=plan.convert)
        before = _fingerprints(connection, kept, say, "before")
        if plan.convert:
            with _user_triggers_off(connection):
                say(f"passwords: {plan.passwords} argon2id hashes take Django's prefix")
                _execute(connection, [PASSWORDS_TO_DJANGO], say)
                payloads, _ = payloads_to_django(connection, key, write=True, progress=say)
                say(f"OAuth payloads: {_describe(payloads)} re-encrypted with the encrypted field's key")
        else:
            say(
                f"passwords and OAuth payloads: left in the old service's formats "
                f"({legacy_formats.FORMATS_VARIABLE}=true; both services read them)"
            )
        _run_bridge(connection, plan.bridge, say)
        recorder = MigrationRecorder(connection)
        for app, name in plan.migrations_to_record:
            recorder.record_applied(app, name)
        say(f"recorded {len(plan.migrations_to_record)} baseline migrations as applied")
        _ensure_unchanged(before, _fingerprints(connection, kept, say, "after"))
    return plan


# -- revert --------------------------------------------------------------------------------


def migrations_after_baseline(connection) -> list:
    executor = MigrationExecutor(connection)
    return [migration for migration, backwards in executor.migration_plan(BASELINE_TARGETS) if backwards]


def ensure_revertible(connection) -> None:
    state = database_state(connection)
    if state == "legacy":
        raise NothingToDo("nothing to do: this database is the old service's already (alembic_version is there).")
    if state == "other":
        raise AdoptionRefused("this database was never adopted from the old service; nothing was changed.")


def revert_plan(connection, key: bytes | None) -> Plan:
    ensure_revertible(connection)
    with scratch_database(connection) as scratch:
        build_legacy_schema(scratch)
        expected_legacy = read_catalog(scratch)
        bridge_ = bridge(connection, scratch)
    plan = Plan(
        "revert",
        bridge_,
        migrations_to_undo=[(m.app_label, m.name) for m in migrations_after_baseline(connection)],
        passwords=_count(connection, "SELECT count(*) FROM users WHERE password LIKE 'argon2$argon2id$%'"),
        passwords_left=_ids(connection, UNCONVERTIBLE_PASSWORDS),
        row_counts={t: _count(connection, f"SELECT count(*) FROM {t}") for t in LEGACY_TABLES},
    )
    plan.payloads, plan.unreadable_payloads = payloads_to_legacy(connection, key, write=False)
    plan.legacy_catalog = expected_legacy
    plan.dropped_values = _dropped_values(connection, bridge_)
    return plan


def _dropped_values(connection, bridge_: Bridge) -> list:
    """(what, rows holding data) for every table and column the revert drops."""
    quote = connection.ops.quote_name
    dropped = [(table, _count(connection, f"SELECT count(*) FROM {quote(table)}")) for table in bridge_.dropped_tables]
    for table, column in bridge_.dropped_columns:
        rows = _count(connection, f"SELECT count(*) FROM {quote(table)} WHERE {quote(column)} IS NOT NULL")
        dropped.append((f"{table}.{column}", rows))
    return dropped


def undo_later_migrations(connection, say: Callable) -> None:
    """Migrations after the baseline, undone as `migrate <app> <baseline>` would (each in its own transaction:
    some build indexes concurrently)."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(BASELINE_TARGETS)
    for migration, _ in plan:
        say(f"undoing {migration.app_label}.{migration.name}")
    if plan:
        executor.migrate(BASELINE_TARGETS, plan=plan)


def revert(connection, key: bytes | None, say: Callable) -> Plan:
    ensure_revertible(connection)
    _require_key_for_payloads(connection, key, verb="revert")
    undo_later_migrations(connection, say)
    # Undone migrations stay undone if what follows fails: the database is then adopted, at the baseline.
    aftermath = "only the migrations undone before it stay undone (`python manage.py migrate` re-applies them)"
    with _rolled_back("the revert", aftermath), transaction.atomic(using=connection.alias):
        plan = revert_plan(connection, key)
        _lock_legacy_tables(connection, say)
        kept = _kept_columns(plan.legacy_catalog, convert=True)
        before = _fingerprints(connection, kept, say, "before")
        _run_bridge(connection, plan.bridge, say)
        with _user_triggers_off(connection):
            say(f"passwords: {plan.passwords} hashes back to the old service's PHC form")
            _execute(connection, [PASSWORDS_TO_LEGACY], say)
            payloads, _ = payloads_to_legacy(connection, key, write=True, progress=say)
            say(f"OAuth payloads: {_describe(payloads)}")
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO alembic_version (version_num) VALUES (%s)", [LEGACY_HEAD])
        _ensure_unchanged(before, _fingerprints(connection, kept, say, "after"))
    return plan


# -- shared ----------------------------------------------------------------------------------


def _payload_count(connection) -> int:
    return _count(connection, "SELECT count(*) FROM users WHERE discord_oauth_payload IS NOT NULL")


def _lock_legacy_tables(connection, say: Callable) -> None:
    """From here to the commit the old service's reads and writes of these tables wait (lock_timeout bounds
    the wait for its open transactions), so the fingerprints compare the same rows."""
    say(f"  {LOCK_LEGACY_TABLES}")
    with connection.cursor() as cursor:
        cursor.execute(LOCK_LEGACY_TABLES)


@contextmanager
def _user_triggers_off(connection):
    """A converted row keeps its updated_at: the column's trigger (ours, or one a `migrate --fake-initial`
    made) would stamp it. Inside the transaction, so no other writer ever sees the triggers off."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE users DISABLE TRIGGER USER")
    yield
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE users ENABLE TRIGGER USER")


def _run_bridge(connection, bridge_: Bridge, say: Callable) -> None:
    total = len(bridge_.statements)
    with connection.cursor() as cursor:
        for number, statement in enumerate(bridge_.statements, 1):
            # Said before it runs: an index build or a CHECK over a large table takes a while.
            say(f"  [{number}/{total}] {_one_line(statement.sql)}")
            started = time.monotonic()
            cursor.execute(statement.sql)
            elapsed = time.monotonic() - started
            if elapsed >= SLOW_STATEMENT_SECONDS:
                say(f"      took {elapsed:.1f} s")


def _execute(connection, statements: list, say: Callable) -> None:
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
            say(f"  {sql}: {cursor.rowcount} rows")


def _fingerprints(connection, columns_by_table: dict, say: Callable, when: str) -> dict:
    fingerprints = table_fingerprints(connection, columns_by_table)
    rows = ", ".join(f"{table} {count}" for table, (count, _) in fingerprints.items())
    say(f"row fingerprints {when}: {rows}")
    return fingerprints


def _ensure_unchanged(before: dict, after: dict) -> None:
    if before != after:
        changed = sorted(table for table in before if before[table] != after.get(table))
        raise CommandError(
            f"row fingerprints changed in {', '.join(changed)} (rows or values other than the converted "
            "columns); everything was rolled back and nothing was changed."
        )


def _one_line(sql: str) -> str:
    return " ".join(sql.split())


def _describe(counts: dict) -> str:
    return ", ".join(f"{count} {kind}" for kind, count in counts.items()) or "none"


def format_plan(plan: Plan) -> str:
    """The whole plan, as --dry-run prints it."""
    lines = []
    if plan.direction == "adopt":
        lines.append("Adoption plan (one transaction, under the migration lock):")
        lines.append("rows: " + ", ".join(f"{table} {count}" for table, count in plan.row_counts.items()))
        lines.append(f"0. {LOCK_LEGACY_TABLES} (until the commit)")
        if plan.convert:
            lines.append(f"1. passwords: {plan.passwords} argon2id hashes get Django's `argon2` prefix")
            lines.append(f"   {PASSWORDS_TO_DJANGO}")
            lines.append(f"2. OAuth payloads: {_describe(plan.payloads)} re-encrypted with the encrypted field's key")
        else:
            lines.append(
                f"1. passwords: {plan.passwords} argon2id hashes left as the old service wrote them "
                f"({legacy_formats.FORMATS_VARIABLE}=true)"
            )
            lines.append(f"2. OAuth payloads: {_describe(plan.payloads)}, left as they are")
        step = 3
    else:
        lines.append("Revert plan:")
        lines.append("rows: " + ", ".join(f"{table} {count}" for table, count in plan.row_counts.items()))
        if plan.migrations_to_undo:
            lines.append("first, each in its own transaction, undo the migrations after the baseline:")
            lines.extend(f"   {app}.{name}" for app, name in plan.migrations_to_undo)
            lines.append("   (the DDL below is computed from the current schema; it shrinks once they are undone)")
        lines.append("then in one transaction:")
        lines.append(f"0. {LOCK_LEGACY_TABLES} (until the commit)")
        step = 1
    lines.append(f"{step}. schema: {len(plan.bridge.statements)} statements")
    lines.extend(f"   {_one_line(statement.sql)};" for statement in plan.bridge.statements)
    if plan.direction == "adopt":
        lines.append(f"{step + 1}. record {len(plan.migrations_to_record)} baseline migrations in django_migrations:")
        lines.append("   " + ", ".join(f"{app}.{name}" for app, name in plan.migrations_to_record))
        lines.append(f"{step + 2}. then migrate applies the migrations added after the baseline, as usual")
    else:
        lines.append(f"{step + 1}. passwords: {plan.passwords} hashes lose Django's `argon2` prefix")
        lines.append(f"   {PASSWORDS_TO_LEGACY}")
        lines.append(f"{step + 2}. OAuth payloads: {_describe(plan.payloads)} (AES-GCM, legacy key, aad = user id)")
        lines.append(f"{step + 3}. INSERT INTO alembic_version VALUES ('{LEGACY_HEAD}')")
        if plan.dropped_values:
            lines.append("Django-only data the old service has no place for, dropped (rows holding a value):")
            lines.extend(f"   {what}: {rows}" for what, rows in plan.dropped_values)
    return "\n".join(lines) + "\n" + format_leftovers(plan)


def format_leftovers(plan: Plan) -> str:
    """What the conversion leaves as it is, by user id."""
    lines = []
    if plan.passwords_left:
        lines.append(
            f"passwords left as they are (not argon2id; these users need a password reset to log in "
            f"{'here' if plan.direction == 'adopt' else 'to the old service'}): {', '.join(plan.passwords_left)}"
        )
    if plan.unreadable_payloads:
        lines.append("OAuth payloads left as they are, by user id (never dropped):")
        lines.extend(f"   {user_id}: {reason}" for user_id, reason in plan.unreadable_payloads)
    return "".join(line + "\n" for line in lines)
