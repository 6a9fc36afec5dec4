"""Keep table rows that PostgreSQL quotes in errors out of exception text and logs.

A NOT NULL or CHECK violation on `users` comes back as
    new row for relation "users" violates check constraint "..."
    DETAIL:  Failing row contains (..., argon2$argon2id$..., eyJhbGciOi..., ...).
psycopg puts that DETAIL line into the exception text (it has no terse mode), PostgreSQL cuts each
value at 64 bytes only, which is most of a jwt, and a 500 logs the exception. Two layers:

- every database connection runs its statements through `redact_database_errors`, so the
  exceptions Django raises (and the psycopg ones they wrap) carry no row: tracebacks, error pages
  and error reporters see the redacted text (connected in accounts.apps);
- LOGGING_CONFIG points at `configure_logging`: every log record, whatever logger, handler or
  formatter handles it, has the row replaced in its message and in the exceptions it carries,
  for errors raised outside Django's connections (a psycopg connection of its own).

Other details stay: "Key (username)=(alice) already exists" names what to fix.

Django's query log (DEBUG on, the `django.db.backends` loggers at DEBUG level) prints each statement with its
values, which would print a jwt being stored or a session key being looked up. A statement that names a secret
column (`gova.secret_fields`) or the session table is logged, and kept in `connection.queries`, as its SQL with
placeholders (gova.backend's `last_executed_query`) and its parameters replaced (`RedactSecretParameters`);
every other statement keeps its values, for debugging.
"""

import functools
import logging
import logging.config
import re

from django.db import DatabaseError

from gova.secret_fields import is_secret

# Values cannot end the match early unless one holds ")." at the end of a line; the jwt, password
# hashes and Fernet tokens never hold a newline.
FAILING_ROW = re.compile(r"Failing row contains \(.*?\)\.?(?=\n|$)", re.DOTALL)
REDACTED = "Failing row contains (values redacted)."
REDACTED_PARAMETERS = "(values redacted: the statement reads or writes a secret)"
# Tables every column of which is a secret: a session's key is a bearer credential.
SECRET_TABLES = ("django_session",)
# The loggers Django writes statements and their parameters to.
QUERY_LOGGERS = ("django.db.backends", "django.db.backends.schema")


def redact(text: str) -> str:
    return FAILING_ROW.sub(REDACTED, text)


def redact_exception_chain(exception) -> None:
    """Rewrite, in place, the arguments (and so the text) of an exception and of those it was raised from."""
    seen = set()
    while exception is not None and id(exception) not in seen:
        seen.add(id(exception))
        if any(isinstance(arg, str) and FAILING_ROW.search(arg) for arg in exception.args):
            exception.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in exception.args)
        exception = exception.__cause__ or exception.__context__


def redact_database_errors(execute, sql, params, many, context):
    """A connection's execute wrapper (Django's connection.execute_wrapper protocol)."""
    try:
        return execute(sql, params, many, context)
    except DatabaseError as error:
        redact_exception_chain(error)
        raise


def install_on_connection(sender, connection, **kwargs):
    """connection_created receiver: each new connection gets the execute wrapper once."""
    if redact_database_errors not in connection.execute_wrappers:
        connection.execute_wrappers.append(redact_database_errors)


class RedactFailingRows(logging.Filter):
    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:  # bad arguments: logging reports that itself when the record is emitted
            message = ""
        if FAILING_ROW.search(message):
            record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            redact_exception_chain(record.exc_info[1])
            record.exc_text = None  # formatted before redaction, if at all
        return True


@functools.cache
def _secret_statement_patterns() -> tuple[tuple[re.Pattern, re.Pattern | None], ...]:
    """(table, its secret columns or None for all) as patterns, from the installed models (read once)."""
    from django.apps import apps

    def word(names) -> re.Pattern:
        return re.compile(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b", re.IGNORECASE)

    patterns = [(word([table]), None) for table in SECRET_TABLES]
    for model in apps.get_models():
        columns = [field.column for field in model._meta.concrete_fields if is_secret(field)]
        if columns:
            patterns.append((word([model._meta.db_table]), word(columns)))
    return tuple(patterns)


def names_a_secret(sql) -> bool:
    """Whether a statement (its SQL, placeholders and all) names a secret column or a secret table. Before the
    models are loaded nothing says which columns are secret: every statement is treated as naming one."""
    from django.apps import apps

    if not apps.models_ready:
        return True
    sql = str(sql)
    return any(
        table.search(sql) and (columns is None or columns.search(sql))
        for table, columns in _secret_statement_patterns()
    )


class RedactSecretParameters(logging.Filter):
    """On Django's query loggers: a statement naming a secret is logged without its parameters (its SQL already
    comes with placeholders, not values: gova.backend's last_executed_query)."""

    def filter(self, record):
        sql, params = getattr(record, "sql", None), getattr(record, "params", None)
        if params is not None and sql is not None and names_a_secret(sql):
            record.args = tuple(REDACTED_PARAMETERS if arg is params else arg for arg in record.args or ())
            record.params = REDACTED_PARAMETERS
        return True


def configure_logging(config: dict) -> None:
    """Django's LOGGING_CONFIG: dictConfig, the query loggers' secret-parameter filter, then redaction of every
    record at its creation (so handlers and formatters added later, by anyone, are covered too)."""
    logging.config.dictConfig(config)
    for name in QUERY_LOGGERS:  # on the loggers, not at record creation: `extra` (record.params) comes after
        query_logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactSecretParameters) for existing in query_logger.filters):
            query_logger.addFilter(RedactSecretParameters())
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacts_failing_rows", False):
        return
    redaction = RedactFailingRows()

    def redacting_factory(*args, **kwargs):
        record = factory(*args, **kwargs)
        redaction.filter(record)
        return record

    redacting_factory.redacts_failing_rows = True
    logging.setLogRecordFactory(redacting_factory)
