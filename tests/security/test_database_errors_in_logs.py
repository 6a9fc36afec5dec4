"""A constraint failure on `users` quotes the row (password hash, jwt): no exception text or log record carries it."""

import logging

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction

from gova.redaction import REDACTED
from tests.factories import UserFactory

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.secret-signature"
SHOWN = JWT[:30]


def everything_logged(caplog):
    formatter = logging.Formatter()
    return "\n".join(formatter.format(record) for record in caplog.records)


@pytest.mark.django_db
def test_the_orm_error_and_the_psycopg_error_it_wraps_carry_no_row():
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        UserFactory(jwt=JWT, pricing_tier="platinum")
    for error in (raised.value, raised.value.__cause__):
        assert 'violates check constraint "user_pricing_tier_valid"' in str(error)
        assert REDACTED in str(error) and SHOWN not in str(error) and "argon2id" not in str(error)


def test_a_traceback_printed_by_a_command_carries_no_row(manage):
    code = (
        "from django.db import connection\n"
        "cursor = connection.cursor()\n"
        "cursor.execute('CREATE TEMP TABLE t (token text, n int CHECK (n > 0))')\n"
        f"cursor.execute(\"INSERT INTO t VALUES ('{JWT}', -1)\")\n"
    )
    result = manage("shell", "-c", code)
    assert result.returncode == 1 and "violates check constraint" in result.stderr
    assert SHOWN not in result.stderr and REDACTED in result.stderr


@pytest.fixture
def raw_failure(db):
    """The error of a psycopg connection of its own (no Django wrapper): only the logging layer redacts it."""
    params = connection.get_connection_params()
    keys = {"host", "port", "user", "password", "dbname"}
    with psycopg.connect(**{key: value for key, value in params.items() if key in keys}) as raw:
        raw.execute("CREATE TEMP TABLE t (token text, n int CHECK (n > 0))")
        with pytest.raises(psycopg.errors.CheckViolation) as raised:
            raw.execute("INSERT INTO t VALUES (%s, -1)", [JWT])
    assert SHOWN in str(raised.value)  # what psycopg hands over
    return raised.value


def test_a_logged_exception_carries_no_row(raw_failure, caplog):
    try:
        raise raw_failure
    except psycopg.Error:
        logging.getLogger("django.request").exception("Internal Server Error: /admin/accounts/user/add/")
    text = everything_logged(caplog)
    assert REDACTED in text and "check constraint" in text and SHOWN not in text
    # Redacted in place: whatever reports the exception afterwards sees the same text.
    assert SHOWN not in str(raw_failure)


def test_an_exception_in_the_message_is_redacted(raw_failure, caplog):
    logging.getLogger("gova").warning("could not save: %s", raw_failure)
    assert SHOWN not in everything_logged(caplog) and REDACTED in caplog.records[0].getMessage()


def test_exc_info_given_as_a_tuple_is_redacted(raw_failure, caplog):
    logging.getLogger("gova").error("failed", exc_info=(type(raw_failure), raw_failure, raw_failure.__traceback__))
    assert SHOWN not in everything_logged(caplog)


@pytest.mark.django_db
def test_other_details_stay():
    UserFactory(username="taken")
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        UserFactory(username="taken")
    assert "Key (username)=(taken) already exists" in str(raised.value)
