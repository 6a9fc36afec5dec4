"""Schema drift: the live database compared with what the applied migrations build, and the models with the migrations.

The expected schema is not re-derived from the models here. A scratch database is created next to the live one,
the migrations applied on the live database (and only those) are run against it, and the two catalogs are read
with the same queries and compared. PostgreSQL therefore normalises both sides (types, defaults, index and
constraint definitions), Django's DDL is never re-implemented, and custom operations such as
`SetForeignKeyOnDelete` or `RunSQL` count exactly as they ran. A function kept in version files (dbops.sql_versions)
is also named by the file its body comes from, so one replaced by another version reads "runs .../v2.sql; the
applied migrations load .../v4.sql". The models are then compared with the migration files by the autodetector, as
`makemigrations --check` would.
"""

import copy
import io
import re
import secrets
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connections, transaction
from django.db.migrations.exceptions import InconsistentMigrationHistory
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader

from dbops import sql_versions
from dbops.conventions import project_app_labels

SCRATCH_ALIAS = "schema_check_scratch"
# Checked on the live database even if a future migration stopped declaring them: the models need both.
REQUIRED_EXTENSIONS = ("vector",)
UUIDV7 = "uuidv7()"
MAKEMIGRATIONS_HEADING = re.compile(r"Migrations for '(.+)':")

# -- catalog -----------------------------------------------------------------------------
# Relations of the schemas on the search path (where Django creates its tables), without extension members.
RELATIONS_SQL = """
    SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = ANY(current_schemas(false)) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
"""

TABLES_SQL = f"""
    SELECT c.oid, c.relname, n.nspname, c.relkind, c.relpersistence, c.relrowsecurity,
           array_to_string(ARRAY(SELECT unnest(c.reloptions) ORDER BY 1), ', '),
           CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid IN ({RELATIONS_SQL})
"""

COLUMNS_SQL = f"""
    SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
           pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated,
           CASE WHEN a.attcollation <> t.typcollation THEN co.collname END
    FROM pg_attribute a
    JOIN pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    LEFT JOIN pg_collation co ON co.oid = a.attcollation
    WHERE a.attrelid IN ({RELATIONS_SQL}) AND a.attnum > 0 AND NOT a.attisdropped
"""

# Indexes that back a primary key, unique or exclusion constraint are compared as those constraints.
INDEXES_SQL = f"""
    SELECT i.indrelid, ic.relname, pg_get_indexdef(i.indexrelid), i.indisvalid
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
    WHERE i.indrelid IN ({RELATIONS_SQL})
      AND NOT EXISTS (SELECT 1 FROM pg_constraint con
                      WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid
                        AND con.contype IN ('p', 'u', 'x'))
"""

# PostgreSQL 18 also lists NOT NULL as constraints ('n'); column nullability already covers them.
CONSTRAINTS_SQL = f"""
    SELECT con.conrelid, con.conname, con.contype, pg_get_constraintdef(con.oid), con.confdeltype
    FROM pg_constraint con
    WHERE con.conrelid IN ({RELATIONS_SQL}) AND con.contype <> 'n'
"""

TRIGGERS_SQL = f"""
    SELECT t.tgrelid, t.tgname, pg_get_triggerdef(t.oid)
    FROM pg_trigger t WHERE t.tgrelid IN ({RELATIONS_SQL}) AND NOT t.tgisinternal
"""

# Functions made by migrations (the uuidv7() fallback before PostgreSQL 18), not those of extensions. The body
# (prosrc) names the version file a function was loaded from (dbops.sql_versions).
FUNCTIONS_SQL = """
    SELECT p.oid::regprocedure::text, md5(pg_get_functiondef(p.oid)), p.proname, p.prosrc
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = ANY(current_schemas(false)) AND p.prokind IN ('f', 'p')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
"""

RELATION_KINDS = {"r": "table", "p": "partitioned table", "v": "view", "m": "materialized view", "f": "foreign table"}
CONSTRAINT_KINDS = {
    "p": "primary key",
    "u": "unique constraint",
    "f": "foreign key",
    "c": "check constraint",
    "x": "exclusion constraint",
    "t": "constraint trigger",
}
ON_DELETE_RULES = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
ON_DELETE_CLAUSE = re.compile(r" ON DELETE (CASCADE|RESTRICT|SET NULL|SET DEFAULT)( \([^)]*\))?")
IDENTITY = {"a": "GENERATED ALWAYS", "d": "GENERATED BY DEFAULT"}

# (table, column) listing indexes built at run time over ranges known only then: fold_embeddings' HNSW parts
# (moderation.vector_index). Their names and predicates differ between any two databases by design.
RUNTIME_INDEX_REGISTRIES = [("evaluation_vector_index_parts", "index_name")]

# Report order inside a group: the table first, then what hangs off it.
KIND_ORDER = [
    "extension",
    "function",
    "migration",
    "app",
    "table",
    "column",
    "index",
    *CONSTRAINT_KINDS.values(),
    "trigger",
]
RENAMEABLE_KINDS = {"index", *CONSTRAINT_KINDS.values()}


@dataclass(frozen=True)
class SchemaObject:
    """One catalog object. `attributes` are what must match; `summary` is what a missing or extra one shows."""

    group: str  # the table it belongs to, or "database"
    kind: str
    name: str
    attributes: dict
    summary: str = ""

    @property
    def key(self):
        return (self.group, self.kind, self.name)


def read_catalog(connection) -> dict:
    """Every object of the search-path schemas that migrations can create, keyed by (group, kind, name)."""
    objects = []
    with connection.cursor() as cursor:
        cursor.execute(TABLES_SQL)
        tables = {}
        for oid, name, schema, kind, persistence, row_security, options, view_sql in cursor.fetchall():
            # Unqualified for the usual single schema; qualified when a second one on the search path has tables.
            tables[oid] = name if schema == "public" else f"{schema}.{name}"
            attributes = {
                "kind": RELATION_KINDS[kind],
                "logging": "UNLOGGED" if persistence == "u" else "LOGGED",
                "row level security": "on" if row_security else "off",
                "options": options or "none",
            }
            if view_sql is not None:
                attributes["definition"] = " ".join(view_sql.split())
            objects.append(SchemaObject(tables[oid], "table", tables[oid], attributes, RELATION_KINDS[kind]))

        cursor.execute(COLUMNS_SQL)
        for oid, name, type_, not_null, default, identity, generated, collation in cursor.fetchall():
            attributes = {
                "type": type_,
                "nullability": "NOT NULL" if not_null else "NULL",
                # A generated column's expression lives where defaults do: tell them apart.
                "default": default if default is not None and not generated else "none",
                "generated": f"ALWAYS AS ({default}) STORED" if generated else "no",
                "identity": IDENTITY.get(identity, "no"),
                "collation": collation or "default",
            }
            objects.append(SchemaObject(tables[oid], "column", name, attributes, type_))

        runtime_indexes = _runtime_indexes(cursor)
        cursor.execute(INDEXES_SQL)
        for oid, name, definition, valid in cursor.fetchall():
            if name in runtime_indexes:
                continue
            # "CREATE [UNIQUE] INDEX name ON table USING ..." without the name, so a renamed index still matches.
            unique = "UNIQUE " if definition.startswith("CREATE UNIQUE ") else ""
            shape = unique + "USING " + definition.split(" USING ", 1)[1]
            # A failed CREATE INDEX CONCURRENTLY leaves an invalid index that no query uses.
            attributes = {"definition": shape, "valid": "yes" if valid else "no"}
            summary = shape if valid else f"INVALID, an interrupted build: run migrate again; {shape}"
            objects.append(SchemaObject(tables[oid], "index", name, attributes, summary))

        cursor.execute(CONSTRAINTS_SQL)
        for oid, name, kind, definition, on_delete in cursor.fetchall():
            kind = CONSTRAINT_KINDS[kind]
            if kind == "foreign key":
                # The rule on its own line of the diff, not buried in a changed definition.
                attributes = {
                    "definition": ON_DELETE_CLAUSE.sub("", definition),
                    "ON DELETE": ON_DELETE_RULES[on_delete],
                }
            else:
                attributes = {"definition": definition}
            objects.append(SchemaObject(tables[oid], kind, name, attributes, definition))

        cursor.execute(TRIGGERS_SQL)
        for oid, name, definition in cursor.fetchall():
            objects.append(SchemaObject(tables[oid], "trigger", name, {"definition": definition}, definition))

        cursor.execute("SELECT extname FROM pg_extension")
        for (name,) in cursor.fetchall():
            # Versions differ legitimately: a scratch database gets the newest one the server ships.
            objects.append(SchemaObject("database", "extension", name, {}))

        versioned = sql_versions.function_versions(project_app_labels())
        cursor.execute(FUNCTIONS_SQL)
        for signature, definition_hash, name, body in cursor.fetchall():
            attributes = {"definition": definition_hash}
            if name in versioned:
                attributes["version"] = sql_versions.version_of(versioned[name], body)
            objects.append(SchemaObject("database", "function", signature, attributes))
    return {obj.key: obj for obj in objects}


def _runtime_indexes(cursor) -> set[str]:
    """Indexes a table of the project declares as built at run time, not by migrations (data, not schema)."""
    names = set()
    for table, column in RUNTIME_INDEX_REGISTRIES:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [table])
        if cursor.fetchone()[0]:
            cursor.execute(f'SELECT "{column}" FROM "{table}"')
            names.update(name for (name,) in cursor.fetchall())
    return names


# -- differences -------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    group: str
    symbol: str  # "-" missing from the live database, "+" only in the live database, "~" different
    kind: str
    name: str
    detail: str

    def __str__(self) -> str:
        return f"{self.symbol} {self.kind} {self.name}: {self.detail}"


def compare_catalogs(expected: dict, live: dict) -> list[Difference]:
    """What differs between the catalog the migrations built and the live one."""
    differences = []
    missing = [obj for key, obj in expected.items() if key not in live]
    extra = [obj for key, obj in live.items() if key not in expected]

    # A whole table missing or extra is one line, not one per column and index.
    absent_tables = {obj.group for obj in missing + extra if obj.kind == "table"}
    missing = [obj for obj in missing if obj.kind == "table" or obj.group not in absent_tables]
    extra = [obj for obj in extra if obj.kind == "table" or obj.group not in absent_tables]

    # An index or constraint with the expected shape under another name: later migrations refer to it by name.
    for obj in list(missing):
        if obj.kind not in RENAMEABLE_KINDS:
            continue
        same_shape = (obj.group, obj.kind, obj.attributes)
        twin = next((o for o in extra if (o.group, o.kind, o.attributes) == same_shape), None)
        if twin is not None:
            missing.remove(obj)
            extra.remove(twin)
            detail = f"named {twin.name} in the live database"
            differences.append(Difference(obj.group, "~", obj.kind, obj.name, detail))

    for obj in missing:
        differences.append(Difference(obj.group, "-", obj.kind, obj.name, _with_summary("missing", obj)))
    for obj in extra:
        # Extensions that migrations did not create (pg_stat_statements...) belong to the DBA, not to drift.
        if obj.kind != "extension":
            differences.append(Difference(obj.group, "+", obj.kind, obj.name, _with_summary("not in migrations", obj)))

    for key, wanted in expected.items():
        found = live.get(key)
        if found is None:
            continue
        changed = [
            attribute for attribute, value in wanted.attributes.items() if found.attributes.get(attribute) != value
        ]
        if "version" in changed:  # which file it came from says more than a changed hash of the definition
            changed = [attribute for attribute in changed if attribute != "definition"]
        for attribute in changed:
            value = wanted.attributes[attribute]
            detail = f"{attribute} {value} (expected), {found.attributes.get(attribute)} (live)"
            if wanted.kind == "index" and attribute == "valid":
                detail = f"INVALID, a build that did not finish: REINDEX INDEX CONCURRENTLY {wanted.name}"
            if attribute == "version":
                detail = f"runs {found.attributes.get(attribute)}; the applied migrations load {value}"
            differences.append(Difference(wanted.group, "~", wanted.kind, wanted.name, detail))
    return differences


def _with_summary(text: str, obj: SchemaObject) -> str:
    return f"{text} ({obj.summary})" if obj.summary else text


def check_live_requirements(connection) -> list[Difference]:
    """The extension and function every model relies on, checked on the live database directly."""
    differences = []
    with connection.cursor() as cursor:
        cursor.execute("SELECT extname FROM pg_extension WHERE extname = ANY(%s)", [list(REQUIRED_EXTENSIONS)])
        present = {row[0] for row in cursor.fetchall()}
        for name in REQUIRED_EXTENSIONS:
            if name not in present:
                differences.append(Difference("database", "-", "extension", name, "missing"))
        try:
            # A savepoint: a failed call must not poison a transaction the caller may be in.
            with transaction.atomic(using=connection.alias):
                cursor.execute(f"SELECT {UUIDV7}")
        except DatabaseError as exc:
            reason = str(exc).strip().splitlines()[0]
            detail = f"not callable ({reason}); every primary key defaults to it"
            differences.append(Difference("database", "-", "function", UUIDV7, detail))
    return differences


# -- migrations --------------------------------------------------------------------------


def applied_migration_keys(connection) -> set:
    return set(MigrationLoader(connection, ignore_no_migrations=True).applied_migrations)


def migrate_to(executor: MigrationExecutor, applied: set) -> tuple[int, list[Difference]]:
    """Apply to the scratch database exactly the migrations applied on the live one, in the order Django would.

    Returns how many ran, and the live migrations that could not be reproduced (a file deleted since,
    or a squashed migration only partly applied).
    """
    full_plan = executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)
    plan = [(migration, False) for migration, _ in full_plan if _is_applied(migration, applied)]
    reproduced = set()
    for migration, _ in plan:
        reproduced.add((migration.app_label, migration.name))
        reproduced.update(tuple(key) for key in migration.replaces)
    if plan:
        executor.migrate(targets=None, plan=plan)
    orphans = [
        Difference("migrations", "+", "migration", f"{app}.{name}", "applied on the live database, not in the project")
        for app, name in sorted(applied - reproduced)
    ]
    return len(plan), orphans


def _is_applied(migration, applied: set) -> bool:
    """Applied, or squashed over migrations that all are (the loader's own rule for a squashed migration)."""
    key = (migration.app_label, migration.name)
    return key in applied or bool(migration.replaces and all(tuple(r) in applied for r in migration.replaces))


def pending_migrations(executor: MigrationExecutor, applied: set) -> list[Difference]:
    """Migration files the live database has not run: the models already expect their schema."""
    full_plan = executor.migration_plan(executor.loader.graph.leaf_nodes(), clean_start=True)
    pending = []
    for migration, _ in full_plan:
        if not _is_applied(migration, applied):
            label = f"{migration.app_label}.{migration.name}"
            pending.append(Difference("migrations", "-", "migration", label, "not applied"))
    return pending


def model_changes() -> list[Difference]:
    """What `makemigrations --check --dry-run` finds: models that differ from the migration files, and conflicts."""
    output = io.StringIO()
    try:
        call_command("makemigrations", check=True, dry_run=True, stdout=output, stderr=output, no_color=True)
    except CommandError as exc:  # conflicting leaf nodes: makemigrations asks for a merge
        return [Difference("migrations", "~", "app", "conflict", str(exc).strip().splitlines()[0])]
    except InconsistentMigrationHistory as exc:  # a migration applied before one it depends on
        return [Difference("migrations", "~", "app", "history", f"{exc}; models not compared")]
    except SystemExit:  # exit 1: changes found; they are in the output
        pass
    differences, app = [], None
    for line in output.getvalue().splitlines():
        heading = MAKEMIGRATIONS_HEADING.fullmatch(line.strip())
        if heading:
            app = heading.group(1)
        elif line.startswith("    ") and app:
            # "    - Remove index x from y": the operation's category symbol, then its description.
            description = line.strip().split(" ", 1)[-1]
            differences.append(
                Difference("models", "~", "app", app, f"models have changes not in migrations: {description}")
            )
    return differences


# -- scratch database --------------------------------------------------------------------


@contextmanager
def scratch_database(connection):
    """A new, empty database on the live server, reachable as connections[SCRATCH_ALIAS]; always dropped."""
    live_name = connection.settings_dict["NAME"]
    name = f"{live_name[:40]}_schema_check_{secrets.token_hex(4)}"
    quoted = connection.ops.quote_name(name)
    # template0: nothing a DBA added to template1 may leak into what "the migrations build" means.
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {quoted} TEMPLATE template0")
    # Same server, credentials and options as the live connection; only the database differs.
    settings_dict = copy.deepcopy(connection.settings_dict)
    settings_dict.update(NAME=name, CONN_MAX_AGE=0)
    scratch = connection.__class__(settings_dict, alias=SCRATCH_ALIAS)
    # Reachable as connections[SCRATCH_ALIAS] for RunPython code that does .using(schema_editor.connection.alias),
    # yet not in settings.DATABASES: connections.all() and the test framework's database guards never see it.
    connections[SCRATCH_ALIAS] = scratch
    try:
        yield scratch
    finally:
        try:
            scratch.close()
            del connections[SCRATCH_ALIAS]
        finally:
            with connection._nodb_cursor() as cursor:
                # FORCE: a connection left open by a failed migration must not keep the database alive.
                cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")


# -- the check ---------------------------------------------------------------------------


@dataclass
class SchemaReport:
    differences: list[Difference] = field(default_factory=list)
    tables: int = 0
    migrations: int = 0

    @property
    def in_sync(self) -> bool:
        return not self.differences

    def format(self) -> str:
        if self.in_sync:
            return f"schema is in sync: {self.tables} tables match the {self.migrations} applied migrations\n"
        groups = defaultdict(list)
        for difference in self.differences:
            groups[difference.group].append(difference)
        # The database and migration groups first: a missing extension or migration explains the rest.
        first = ["database", "migrations", "models"]
        order = [g for g in first if g in groups] + sorted(g for g in groups if g not in first)
        lines = []
        for group in order:
            lines.append(f"drift in {group}:")
            ranked = sorted(groups[group], key=lambda d: (KIND_ORDER.index(d.kind), d.name, d.detail))
            lines.extend(f"  {difference}" for difference in ranked)
        return "\n".join(lines) + "\n"


def check_schema(using: str = "default") -> SchemaReport:
    """Compare the live database `using` with the applied migrations replayed on a scratch database, and
    the models with the migration files."""
    connection = connections[using]
    applied = applied_migration_keys(connection)
    live = read_catalog(connection)
    requirements = check_live_requirements(connection)
    with scratch_database(connection) as scratch:
        executor = MigrationExecutor(scratch)
        migrations_run, orphans = migrate_to(executor, applied)
        expected = read_catalog(scratch)
        pending = pending_migrations(executor, applied)
    catalog_differences = compare_catalogs(expected, live)
    # The direct checks and the catalog comparison can both see a missing vector or uuidv7(): say it once.
    seen = {(d.group, d.kind, d.name) for d in catalog_differences}
    requirements = [d for d in requirements if (d.group, d.kind, d.name) not in seen]
    differences = requirements + orphans + pending + catalog_differences + model_changes()
    tables = sum(1 for obj in expected.values() if obj.kind == "table")
    return SchemaReport(differences, tables=tables, migrations=migrations_run)
