"""DDL that takes a live schema to the schema of a reference database, object by object.

Both sides are read with schema_check's catalog queries, so "done" means exactly what `schema_check`
calls in sync. What the reference has and the live database lacks is created from the reference's own
definitions (pg_get_indexdef, pg_get_constraintdef, pg_get_triggerdef, pg_get_functiondef); an index or
constraint of the same shape under another name is renamed, not rebuilt; what only the live database
has is dropped. takeover.adoption uses it both ways: the old service's schema to our baseline, and back.
"""

from dataclasses import dataclass

from django.core.management.base import CommandError

from dbops.schema_check import RENAMEABLE_KINDS, read_catalog

# Columns whose other attributes differ cannot be changed in place by a plain ALTER here.
ALTERABLE_COLUMN_ATTRIBUTES = {"type", "nullability", "default"}


class BridgeError(CommandError):
    """A difference this module does not turn into DDL (the schema is not the one expected). Raised while
    planning, before any statement runs."""


@dataclass(frozen=True)
class Statement:
    sql: str
    # A constraint or NOT NULL this statement adds to existing rows: checked for violations beforehand.
    validates: tuple = ()


@dataclass
class Bridge:
    statements: list
    dropped_tables: list  # tables only the live database has
    dropped_columns: list  # (table, column) only the live database has


def bridge(live_connection, reference_connection, check_sql: dict | None = None, keep_tables=()) -> Bridge:
    """`check_sql`: (table, name) -> "CHECK (...)" as first written. PostgreSQL keeps only the parsed
    expression, and pg_get_constraintdef's text parses to a different tree (ARRAY[...]::text[] becomes
    ARRAY[(...)::text, ...]), which schema_check would call drift. `keep_tables`: tables only the live
    database has that stay as they are, with everything on them."""
    live = read_catalog(live_connection)
    live = {key: obj for key, obj in live.items() if obj.group not in keep_tables}
    reference = read_catalog(reference_connection)
    with reference_connection.cursor() as cursor:
        return _plan(live, reference, cursor, quote=live_connection.ops.quote_name, check_sql=check_sql or {})


def _plan(live: dict, reference: dict, ref, quote, check_sql: dict) -> Bridge:
    missing = [obj for key, obj in reference.items() if key not in live]
    extra = [obj for key, obj in live.items() if key not in reference]
    new_tables = {obj.group for obj in missing if obj.kind == "table"}
    old_tables = {obj.group for obj in extra if obj.kind == "table"}
    # A new table's columns go into its CREATE TABLE; its constraints, indexes and triggers are added after.
    missing = [obj for obj in missing if obj.kind != "column" or obj.group not in new_tables]
    # A dropped table takes everything on it along.
    extra = [obj for obj in extra if obj.kind == "table" or obj.group not in old_tables]

    renames = []
    for obj in list(missing):
        if obj.kind in RENAMEABLE_KINDS:
            twin = next(
                (o for o in extra if (o.group, o.kind, o.attributes) == (obj.group, obj.kind, obj.attributes)), None
            )
            if twin is not None:
                missing.remove(obj)
                extra.remove(twin)
                renames.append((twin, obj))
    changed = []
    for key, wanted in reference.items():
        found = live.get(key)
        if found is not None and found.attributes != wanted.attributes:
            if wanted.kind == "function":
                missing.append(wanted)  # CREATE OR REPLACE: defaults and triggers that call it stay attached
            elif wanted.kind in RENAMEABLE_KINDS or wanted.kind == "trigger":
                # Rebuilt: dropped with the extras, created with the missing.
                extra.append(found)
                missing.append(wanted)
            elif wanted.kind in {"column", "extension"}:
                changed.append((found, wanted))
            else:
                raise BridgeError(f"{wanted.kind} {wanted.name} differs and cannot be bridged: {found.attributes}")

    def of(objects, *kinds):
        return [obj for obj in objects if obj.kind in kinds]

    statements = []
    # Dependents first: triggers, then foreign keys (they need the unique indexes), then the rest.
    for obj in of(extra, "trigger"):
        statements.append(Statement(f"DROP TRIGGER {quote(obj.name)} ON {quote(obj.group)}"))
    for kind in ("foreign key", "check constraint", "unique constraint", "primary key", "exclusion constraint"):
        for obj in of(extra, kind):
            statements.append(Statement(f"ALTER TABLE {quote(obj.group)} DROP CONSTRAINT {quote(obj.name)}"))
    for obj in of(extra, "index"):
        statements.append(Statement(f"DROP INDEX {quote(obj.name)}"))
    for old, new in renames:
        if old.kind == "index":
            statements.append(Statement(f"ALTER INDEX {quote(old.name)} RENAME TO {quote(new.name)}"))
        else:
            statements.append(
                Statement(f"ALTER TABLE {quote(old.group)} RENAME CONSTRAINT {quote(old.name)} TO {quote(new.name)}")
            )
    dropped_tables = sorted(obj.group for obj in of(extra, "table"))
    if dropped_tables:
        # One statement: tables that refer to each other go together, and CASCADE never reaches further.
        statements.append(Statement("DROP TABLE " + ", ".join(quote(t) for t in dropped_tables)))
    for obj in of(missing, "extension"):
        statements.append(Statement(f"CREATE EXTENSION IF NOT EXISTS {quote(obj.name)}"))
    for obj in of(missing, "function"):
        statements.extend(_create_function(ref, obj.name))

    for obj in of(missing, "table"):
        columns = [o for o in reference.values() if o.kind == "column" and o.group == obj.group]
        definitions = ", ".join(_column_sql(column, quote) for column in columns)
        statements.append(Statement(f"CREATE TABLE {quote(obj.group)} ({definitions})"))
    for obj in of(missing, "column"):
        if obj.attributes["identity"] != "no" or obj.attributes["generated"] != "no":
            raise BridgeError(f"column {obj.group}.{obj.name} is an identity or generated column: add it by hand")
        statements.append(Statement(f"ALTER TABLE {quote(obj.group)} ADD COLUMN {_column_sql(obj, quote)}"))
    for found, wanted in changed:
        if wanted.kind == "extension":
            continue  # versions differ legitimately
        statements.extend(_alter_column(found, wanted, quote))

    for kind in ("primary key", "unique constraint", "check constraint", "exclusion constraint", "foreign key"):
        for obj in of(missing, kind):
            statements.append(
                _add_constraint(ref, obj, quote, existing_table=obj.group not in new_tables, check_sql=check_sql)
            )
    for obj in of(missing, "index"):
        ref.execute("SELECT pg_get_indexdef(to_regclass(%s))", [quote(obj.name)])
        statements.append(Statement(ref.fetchone()[0]))
    for obj in of(missing, "trigger"):
        ref.execute(
            "SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND tgname = %s",
            [quote(obj.group), obj.name],
        )
        statements.append(Statement(ref.fetchone()[0]))

    dropped_columns = sorted((obj.group, obj.name) for obj in of(extra, "column"))
    for table, column in dropped_columns:
        statements.append(Statement(f"ALTER TABLE {quote(table)} DROP COLUMN {quote(column)}"))
    for obj in of(extra, "function"):
        statements.append(Statement(f"DROP FUNCTION {obj.name}"))
    return Bridge(statements, dropped_tables, dropped_columns)


def _column_sql(column, quote) -> str:
    attributes = column.attributes
    sql = f"{quote(column.name)} {attributes['type']}"
    if attributes["collation"] != "default":
        sql += f" COLLATE {quote(attributes['collation'])}"
    if attributes["identity"] != "no":
        sql += f" {attributes['identity']} AS IDENTITY"
    if attributes["default"] != "none":
        sql += f" DEFAULT {attributes['default']}"
    if attributes["nullability"] == "NOT NULL":
        sql += " NOT NULL"
    return sql


def _alter_column(found, wanted, quote) -> list:
    different = {name for name, value in wanted.attributes.items() if found.attributes.get(name) != value}
    if different - ALTERABLE_COLUMN_ATTRIBUTES:
        raise BridgeError(f"column {wanted.group}.{wanted.name}: {', '.join(sorted(different))} differ")
    table, column = quote(wanted.group), quote(wanted.name)
    statements = []
    if "type" in different:
        type_ = wanted.attributes["type"]
        statements.append(Statement(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {type_} USING {column}::{type_}"))
    if "default" in different:
        default = wanted.attributes["default"]
        action = "DROP DEFAULT" if default == "none" else f"SET DEFAULT {default}"
        statements.append(Statement(f"ALTER TABLE {table} ALTER COLUMN {column} {action}"))
    if "nullability" in different:
        if wanted.attributes["nullability"] == "NOT NULL":
            statements.append(
                Statement(
                    f"ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL",
                    validates=("not null", wanted.group, wanted.name),
                )
            )
        else:
            statements.append(Statement(f"ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL"))
    return statements


def _add_constraint(ref, obj, quote, *, existing_table: bool, check_sql: dict) -> Statement:
    ref.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = to_regclass(%s) AND conname = %s",
        [quote(obj.group), obj.name],
    )
    definition = ref.fetchone()[0]
    if obj.kind == "check constraint":
        if (obj.group, obj.name) not in check_sql:
            raise BridgeError(f"check constraint {obj.name} on {obj.group}: no source SQL to create it from")
        definition = check_sql[(obj.group, obj.name)]
    validates = ()
    if existing_table and obj.kind in {"check constraint", "foreign key", "unique constraint", "primary key"}:
        validates = (obj.kind, obj.group, obj.name, definition, _constraint_columns(ref, obj, quote))
    return Statement(f"ALTER TABLE {quote(obj.group)} ADD CONSTRAINT {quote(obj.name)} {definition}", validates)


def _constraint_columns(ref, obj, quote) -> tuple:
    """(columns, referenced table, referenced columns) of a reference constraint."""
    ref.execute(
        """
        SELECT ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
                     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i),
               con.confrelid::regclass::text,
               ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
                     JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.i)
        FROM pg_constraint con WHERE con.conrelid = to_regclass(%s) AND con.conname = %s
        """,
        [quote(obj.group), obj.name],
    )
    columns, referenced_table, referenced_columns = ref.fetchone()
    return tuple(columns), referenced_table, tuple(referenced_columns or ())


def _create_function(ref, signature: str) -> list:
    ref.execute(
        "SELECT pg_get_functiondef(to_regprocedure(%s)), obj_description(to_regprocedure(%s), 'pg_proc')",
        [signature, signature],
    )
    definition, comment = ref.fetchone()
    statements = [Statement(definition.strip())]
    if comment:
        # The comment marks our uuidv7() fallback: dbops 0001's reverse drops only a function carrying it.
        literal = "'" + comment.replace("'", "''") + "'"
        statements.append(Statement(f"COMMENT ON FUNCTION {signature} IS {literal}"))
    return statements
