"""Keep table rows that PostgreSQL quotes in errors out of logs.

A NOT NULL or CHECK violation on `users` comes back as
    new row for relation "users" violates check constraint "..."
    DETAIL:  Failing row contains (..., argon2$argon2id$..., eyJhbGciOi..., ...).
psycopg puts that DETAIL line into the exception text (it has no terse mode for it), and a 500 logs
the exception: the password hash and the jwt would reach the logs. PostgreSQL cuts each value at
64 bytes, which is most of a jwt.

LOGGING_CONFIG points at configure_logging: every log record, whatever logger, handler or formatter
handles it (and handlers made later), has that detail replaced, in its message and in the exceptions
it carries. The exceptions are redacted in place, so whatever reports them afterwards sees the
redacted text too.
"""

import logging
import logging.config
import re

# Values cannot end the match early unless one holds ")." at the end of a line; the jwt, password
# hashes and Fernet tokens never hold a newline.
FAILING_ROW = re.compile(r"Failing row contains \(.*?\)\.?(?=\n|$)", re.DOTALL)
REDACTED = "Failing row contains (values redacted)."


def redact(text: str) -> str:
    return FAILING_ROW.sub(REDACTED, text)


class RedactFailingRows(logging.Filter):
    def filter(self, record):
        message = record.getMessage()
        if FAILING_ROW.search(message):
            record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            _redact_exception_chain(record.exc_info[1])
            record.exc_text = None  # formatted before redaction, if at all
        return True


def _redact_exception_chain(exception):
    seen = set()
    while exception is not None and id(exception) not in seen:
        seen.add(id(exception))
        if any(isinstance(arg, str) and FAILING_ROW.search(arg) for arg in exception.args):
            exception.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in exception.args)
        exception = exception.__cause__ or exception.__context__


def configure_logging(config: dict) -> None:
    """Django's LOGGING_CONFIG: dictConfig, then redaction of every record at its creation."""
    logging.config.dictConfig(config)
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
