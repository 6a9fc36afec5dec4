"""A constraint failure on `users` quotes the row (password hash, jwt); no log record carries it."""

import logging

import pytest
from django.db import IntegrityError, transaction

from gova.log_redaction import REDACTED
from tests.factories import UserFactory

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.secret-signature"


@pytest.fixture
def failure(db):
    """The IntegrityError a CHECK violation on users raises, with the row in PostgreSQL's DETAIL."""
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        UserFactory(jwt=JWT, pricing_tier="platinum")
    assert "Failing row contains" in str(raised.value.__cause__)  # what psycopg hands over
    return raised.value


def everything_logged(caplog):
    formatter = logging.Formatter()
    return "\n".join(formatter.format(record) for record in caplog.records)


def test_a_logged_exception_carries_neither_the_jwt_nor_the_password_hash(failure, caplog):
    try:
        raise failure
    except IntegrityError:
        logging.getLogger("django.request").exception("Internal Server Error: /admin/accounts/user/add/")
    text = everything_logged(caplog)
    assert REDACTED in text and "check constraint" in text
    assert JWT[:30] not in text and "argon2id" not in text
    # Redacted in place: whatever reports the exception afterwards sees the same text.
    assert JWT[:30] not in str(failure) and JWT[:30] not in str(failure.__cause__)


def test_an_exception_in_the_message_is_redacted(failure, caplog):
    logging.getLogger("gova").warning("could not save the user: %s", failure)
    assert JWT[:30] not in everything_logged(caplog) and REDACTED in caplog.records[0].getMessage()


def test_exc_info_given_as_a_tuple_is_redacted(failure, caplog):
    logging.getLogger("gova").error("failed", exc_info=(type(failure), failure, failure.__traceback__))
    assert JWT[:30] not in everything_logged(caplog)


def test_other_errors_keep_their_detail(db, caplog):
    UserFactory(username="taken")
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        UserFactory(username="taken")
    logging.getLogger("gova").error("failed", exc_info=(raised.type, raised.value, raised.tb))
    assert "Key (username)=(taken) already exists" in everything_logged(caplog)
