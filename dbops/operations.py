"""Reusable migration operations: what the old service's Alembic template did, as Django operations."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.core.management.base import CommandError
from django.db import migrations
from django.db.migrations.operations.base import Operation
from pgvector.django import VectorExtension

from dbops import sql_versions
from dbops.event_tables import EVENT_TABLES

# Marks the fallback uuidv7() as ours, so the reverse drops it and never a function someone else made.
UUIDV7_FALLBACK_COMMENT = "gova fallback uuidv7() (RFC 9562 method 3); dbops.operations.CreateUUIDv7Function"

# PostgreSQL 18's built-in uuidv7() made portable to 14-17: 48-bit Unix milliseconds, version 7,
# 12 bits of sub-millisecond fraction (RFC 9562 method 3), variant 10, 62 random bits. Like the
# built-in it is monotonic within a session: a call in the same tick as the previous one steps the
# 60-bit timestamp up by one (the last value lives in a session setting). Random bits in place of
# the fraction produced half the keys out of order and a primary-key index 42% larger.
UUIDV7_FALLBACK_SQL = """
CREATE FUNCTION {schema}.uuidv7() RETURNS uuid
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    now_us bigint := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint;
    stamp bigint := ((now_us / 1000) << 12) | (((now_us % 1000) * 4096) / 1000);
    previous bigint := coalesce(nullif(current_setting('gova.uuidv7_last', true), '')::bigint, 0);
BEGIN
    IF stamp <= previous THEN
        stamp := previous + 1;
    END IF;
    PERFORM set_config('gova.uuidv7_last', stamp::text, false);
    -- gen_random_uuid()'s last 8 bytes are random with the RFC variant bits already set.
    RETURN encode(
        int8send(((stamp >> 12) << 16) | (7 << 12) | (stamp & 4095))
            || substring(uuid_send(gen_random_uuid()) FROM 9 FOR 8),
        'hex'
    )::uuid;
END
$fn$;
COMMENT ON FUNCTION {schema}.uuidv7() IS '{comment}';
"""


def uuidv7_fallback_sql(schema: str) -> str:
    """The fallback's DDL in `schema` (quoted), schema-qualified so COMMENT never reaches pg_catalog's uuidv7()."""
    return UUIDV7_FALLBACK_SQL.format(schema=schema, comment=UUIDV7_FALLBACK_COMMENT)


class EnableVector(VectorExtension):
    """CREATE EXTENSION IF NOT EXISTS vector. Migrations import this path: never move it.

    A server without pgvector never gets here: dbops' pre_migrate check (dbops.preconditions) stops
    migrate with install instructions before the first migration runs.
    """

    def deconstruct(self):
        return self.__class__.__name__, [], {}

    def describe(self):
        return "Enable the pgvector extension"

    @property
    def migration_name_fragment(self):
        return "enable_vector"


class EventTableSQL(migrations.RunSQL):
    """RunSQL on an event table that declares what it does to the rows, for the data-loss guard.

    `destroys` names the event tables whose rows or values the forward SQL drops or rewrites
    (DROP COLUMN, DELETE, TRUNCATE, UPDATE ... SET ...); `reverse_destroys` does the same for
    `reverse_sql`. An empty tuple declares that every row and value is kept (an index, a trigger, a
    storage parameter). Both are required, so the author always says: the guard trusts the
    declaration instead of guessing from the SQL text, and `check_migrations` refuses a plain RunSQL
    that names an event table (after Sentry's SafeRunSQL).
    """

    def __init__(self, sql, reverse_sql, *, destroys, reverse_destroys, **kwargs):
        unknown = sorted((set(destroys) | set(reverse_destroys)) - set(EVENT_TABLES))
        if unknown:
            raise ValueError(f"not event tables: {', '.join(unknown)} (event tables: {', '.join(EVENT_TABLES)})")
        super().__init__(sql, reverse_sql, **kwargs)
        self.destroys, self.reverse_destroys = tuple(destroys), tuple(reverse_destroys)

    def deconstruct(self):
        name, args, kwargs = super().deconstruct()
        kwargs.update(destroys=self.destroys, reverse_destroys=self.reverse_destroys)
        return name, args, kwargs


class RunSQLVersions(EventTableSQL):
    """Run versions of functions and triggers kept in files (dbops.sql_versions) instead of embedding their SQL.

    `versions` maps each object to the version to run, in order: {"evaluation_event_insert": 3} runs
    moderation/sql/evaluation_event_insert/v3.sql. Backwards, without `reverse_sql`, each function gets its previous
    version back (CREATE OR REPLACE), in reverse order. A first version has none: its migration gives the DROP as
    `reverse_sql`. `destroys` and `reverse_destroys` as for any EventTableSQL (a function or trigger: none).
    sqlmigrate prints the files' statements, as for RunSQL.
    """

    def __init__(self, app_label: str, versions: dict, reverse_sql=None, *, destroys, reverse_destroys, **kwargs):
        self.app_label, self.versions, self.given_reverse_sql = app_label, dict(versions), reverse_sql
        files = [sql_versions.version(app_label, name, number) for name, number in self.versions.items()]
        if reverse_sql is None:
            first = [f.label for f in files if f.version == 1]
            if first:
                raise ValueError(f"{', '.join(first)}: a first version has no earlier one; give reverse_sql (the DROP)")
            reverse_sql = "\n".join(
                sql_versions.version(app_label, f.name, f.version - 1).replacing() for f in reversed(files)
            )
        self.labels = [f.label for f in files]
        sql = "\n".join(f.read() for f in files)
        super().__init__(sql, reverse_sql, destroys=destroys, reverse_destroys=reverse_destroys, **kwargs)

    def deconstruct(self):
        kwargs = {"app_label": self.app_label, "versions": self.versions}
        if self.given_reverse_sql is not None:
            kwargs["reverse_sql"] = self.given_reverse_sql
        kwargs.update(destroys=self.destroys, reverse_destroys=self.reverse_destroys)
        if self.state_operations:
            kwargs["state_operations"] = self.state_operations
        if self.hints:
            kwargs["hints"] = self.hints
        if self.elidable:
            kwargs["elidable"] = self.elidable
        return self.__class__.__name__, [], kwargs

    def describe(self):
        return f"Run {', '.join(self.labels)}"


class CreateUUIDv7Function(Operation):
    """Make `uuidv7()` callable: PostgreSQL 18 has it; on 14-17 create the fallback above."""

    reversible = True
    reduces_to_sql = True

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SELECT to_regprocedure('uuidv7()') IS NOT NULL")
            if cursor.fetchone()[0]:
                return  # native (PostgreSQL 18) or created earlier by someone else: leave it be
            cursor.execute("SELECT current_schema()")
            schema = cursor.fetchone()[0]
        # params=None: the body's `%` operator must not be read as a placeholder.
        schema_editor.execute(uuidv7_fallback_sql(schema_editor.quote_name(schema)), params=None)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT p.oid::regprocedure::text FROM pg_proc p "
                "WHERE p.proname = 'uuidv7' AND p.pronargs = 0 AND obj_description(p.oid, 'pg_proc') = %s",
                [UUIDV7_FALLBACK_COMMENT],
            )
            ours = [row[0] for row in cursor.fetchall()]
        for signature in ours:
            schema_editor.execute(f"DROP FUNCTION {signature}")

    def describe(self):
        return "Make uuidv7() available (native on PostgreSQL 18, a fallback function before)"

    @property
    def migration_name_fragment(self):
        return "create_uuidv7"


class SetForeignKeyOnDelete(Operation):
    """Give a foreign key an ON DELETE rule in the database itself.

    Django 5.2 emulates on_delete in Python and creates foreign keys without a rule, so a
    writer other than Django (SQL, the old service) would get NO ACTION. The constraint keeps
    its name; it is added NOT VALID and then validated, which holds only a SHARE UPDATE
    EXCLUSIVE lock while existing rows are checked.
    """

    reversible = True
    reduces_to_sql = True
    RULES = {"CASCADE", "SET NULL", "SET DEFAULT", "RESTRICT", "NO ACTION"}

    def __init__(self, model_name: str, name: str, on_delete: str):
        if on_delete not in self.RULES:
            raise ValueError(f"on_delete must be one of {sorted(self.RULES)}, not {on_delete!r}")
        self.model_name, self.name, self.on_delete = model_name, name, on_delete

    def deconstruct(self):
        return (
            self.__class__.__name__,
            [],
            {"model_name": self.model_name, "name": self.name, "on_delete": self.on_delete},
        )

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._recreate(app_label, schema_editor, to_state, self.on_delete)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        self._recreate(app_label, schema_editor, to_state, "NO ACTION")

    def _recreate(self, app_label, schema_editor, state, rule):
        model = state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.name)
        table, column = model._meta.db_table, field.column
        target_table = field.related_model._meta.db_table
        target_column = field.target_field.column
        [constraint] = schema_editor._constraint_names(model, [column], foreign_key=True)
        quote = schema_editor.quote_name
        schema_editor.execute(
            f"ALTER TABLE {quote(table)} DROP CONSTRAINT {quote(constraint)}, "
            f"ADD CONSTRAINT {quote(constraint)} FOREIGN KEY ({quote(column)}) "
            f"REFERENCES {quote(target_table)} ({quote(target_column)}) ON DELETE {rule} "
            "DEFERRABLE INITIALLY DEFERRED NOT VALID"
        )
        schema_editor.execute(f"ALTER TABLE {quote(table)} VALIDATE CONSTRAINT {quote(constraint)}")

    def describe(self):
        return f"Set ON DELETE {self.on_delete} on {self.model_name}.{self.name} in the database"

    @property
    def migration_name_fragment(self):
        return f"{self.model_name}_{self.name}_on_delete"


class MaintainUpdatedAt(Operation):
    """A BEFORE UPDATE trigger that moves `updated_at` on for writers that leave it alone.

    Django's auto_now sets the column on save(), but not on QuerySet.update() or for other writers
    (SQL, the old service). The trigger only fills in when an UPDATE did not change the column
    itself, so the value Django set, and holds in memory, is the one stored.
    """

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, name: str = "updated_at"):
        self.model_name, self.name = model_name, name

    def deconstruct(self):
        return self.__class__.__name__, [], {"model_name": self.model_name, "name": self.name}

    def state_forwards(self, app_label, state):
        pass

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        table, column, function, trigger = self._names(app_label, schema_editor, to_state)
        schema_editor.execute(
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $fn$ "
            f"BEGIN IF NEW.{column} IS NOT DISTINCT FROM OLD.{column} THEN NEW.{column} := statement_timestamp(); "
            "END IF; RETURN NEW; END $fn$",
            params=None,
        )
        schema_editor.execute(
            f"CREATE TRIGGER {trigger} BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {function}()"
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        table, _, function, trigger = self._names(app_label, schema_editor, from_state)
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {function}()")

    def _names(self, app_label, schema_editor, state):
        model = state.apps.get_model(app_label, self.model_name)
        table = model._meta.db_table
        quote = schema_editor.quote_name
        column = model._meta.get_field(self.name).column
        return quote(table), quote(column), quote(f"{table}_set_{column}"), quote(f"{table}_{column}_trigger")

    def describe(self):
        return f"Keep {self.model_name}.{self.name} current on every UPDATE, in the database"

    @property
    def migration_name_fragment(self):
        return f"{self.model_name}_{self.name}_trigger"


class RerunnableAddIndexConcurrently(AddIndexConcurrently):
    """AddIndexConcurrently that a second `migrate` completes after the first was interrupted.

    A killed or cancelled CREATE INDEX CONCURRENTLY leaves its index behind (INVALID if the build
    did not finish, valid if only the client died) while the migration is not recorded, so a plain
    re-run fails with `relation "..." already exists`. Here an INVALID leftover of the same name is
    dropped and rebuilt, and a valid one with the same definition is adopted as it is. A valid index
    of that name with another definition is someone else's: the migration stops and says so.
    """

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        self._ensure_not_in_transaction(schema_editor)
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        quote = schema_editor.quote_name
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT i.indisvalid, pg_get_indexdef(i.indexrelid), i.indrelid = to_regclass(%s) "
                "FROM pg_index i WHERE i.indexrelid = to_regclass(%s)",
                [quote(model._meta.db_table), quote(self.index.name)],
            )
            leftover = cursor.fetchone()
        if leftover is not None:
            valid, definition, same_table = leftover
            if not valid:
                schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {quote(self.index.name)}")
            elif same_table and _index_shape(definition) == self._wanted_shape(model, schema_editor):
                return  # a build whose client was killed after PostgreSQL finished it
            else:
                raise CommandError(
                    f"index {self.index.name} already exists with another definition ({definition}); nothing was "
                    "changed. Drop or rename that index, then run migrate again."
                )
        schema_editor.add_index(model, self.index, concurrently=True)

    def _wanted_shape(self, model, schema_editor) -> str:
        """The definition PostgreSQL would report for this index, read from a build on an empty temporary copy
        of the table (cheap at any table size, and exact for expressions, opclasses and conditions)."""
        probe_table, probe_index = "gova_index_probe", "gova_index_probe_idx"
        table = model._meta.db_table
        statement = self.index.create_sql(model, schema_editor)
        statement.rename_table_references(table, probe_table)
        statement.parts["name"] = schema_editor.quote_name(probe_index)
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE {probe_table} (LIKE {schema_editor.quote_name(table)})")
            try:
                cursor.execute(str(statement))
                cursor.execute("SELECT pg_get_indexdef(%s::regclass)", [f"pg_temp.{probe_index}"])
                return _index_shape(cursor.fetchone()[0])
            finally:
                cursor.execute(f"DROP TABLE {probe_table}")

    def describe(self):
        return super().describe() + " (re-runnable after an interrupted build)"


def _index_shape(definition: str) -> str:
    """`CREATE [UNIQUE] INDEX name ON table USING ...` without the name and the table."""
    unique = "UNIQUE " if definition.startswith("CREATE UNIQUE ") else ""
    return unique + "USING " + definition.split(" USING ", 1)[1]
