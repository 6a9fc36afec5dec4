"""Django's query log (DEBUG on, django.db.backends at DEBUG) never prints a secret; other statements keep values."""

import json
import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from gova.redaction import REDACTED_PARAMETERS, names_a_secret
from moderation.models import Moderator
from tests.factories import ModeratorFactory, UserFactory

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.query-log-signature"


class Extras(logging.Handler):
    """What a structured handler (JSON logs) would ship: the message and the `extra` fields Django attaches."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.shipped = []

    def emit(self, record):
        self.shipped.append(record.getMessage() + json.dumps({"sql": record.sql, "params": record.params}, default=str))


@pytest.fixture
def query_log(settings):
    settings.DEBUG = True
    handler = Extras()
    loggers = [logging.getLogger(name) for name in ("django.db.backends", "django.db.backends.schema")]
    levels = [each.level for each in loggers]
    for each in loggers:
        each.setLevel(logging.DEBUG)
        each.addHandler(handler)
    try:
        with CaptureQueriesContext(connection) as queries:
            yield handler.shipped, queries
    finally:
        for each, level in zip(loggers, levels, strict=True):
            each.removeHandler(handler)
            each.setLevel(level)


@pytest.mark.django_db
def test_a_jwt_written_and_looked_up_is_logged_as_placeholders(query_log):
    shipped, queries = query_log
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(jwt=JWT)
    assert User.objects.filter(jwt=JWT).exists()
    with connection.cursor() as cursor:  # raw SQL too
        cursor.execute("SELECT count(*) FROM users WHERE jwt = %s", [JWT])
    logged = "\n".join(shipped) + "\n".join(query["sql"] for query in queries.captured_queries)
    assert JWT not in logged and "query-log-signature" not in logged
    assert 'SET "jwt" = %s' in logged and REDACTED_PARAMETERS in logged  # the statements are still there


@pytest.mark.django_db
def test_a_session_key_is_not_logged(client, query_log):
    shipped, queries = query_log
    client.force_login(UserFactory())
    assert client.get("/admin/").status_code in (200, 302)
    session_key = client.session.session_key
    logged = "\n".join(shipped) + "\n".join(query["sql"] for query in queries.captured_queries)
    assert session_key and session_key not in logged
    assert "django_session" in logged


@pytest.mark.django_db
def test_other_statements_keep_their_values(query_log):
    shipped, queries = query_log
    moderator = ModeratorFactory(name="night shift")
    Moderator.objects.filter(pk=moderator.pk).update(description="watch the raids")
    assert any("watch the raids" in query["sql"] for query in queries.captured_queries)
    assert any("watch the raids" in line for line in shipped)


def test_which_statements_name_a_secret():
    assert names_a_secret('SELECT "users"."id", "users"."password" FROM "users" WHERE "users"."id" = %s')
    assert names_a_secret("insert into USERS (username, discord_oauth_payload) values (%s, %s)")
    assert names_a_secret('DELETE FROM "django_session" WHERE "django_session"."session_key" = %s')
    assert not names_a_secret('SELECT "users"."id", "users"."username" FROM "users"')
    assert not names_a_secret('SELECT "users_groups"."id" FROM "users_groups" WHERE "jwt_like" = %s')
    assert not names_a_secret('UPDATE "moderators" SET "description" = %s')
