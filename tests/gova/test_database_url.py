"""DATABASE_URL in the forms libpq documents: socket hosts, query parameters, percent-encoded passwords."""

import os
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured

from devdb.server import EmbeddedPostgres
from gova.database_url import database_from_url, prepare_threshold


@pytest.mark.parametrize(("url", "expected"), [
    ("postgres://user@%2Fvar%2Frun%2Fpostgresql/db", {"HOST": "/var/run/postgresql", "USER": "user", "NAME": "db"}),
    ("postgres://user:pw@/db?host=/var/run/postgresql", {"HOST": "/var/run/postgresql", "PASSWORD": "pw"}),
    ("postgres:///db?host=/cloudsql/proj:region:inst&user=app", {"HOST": "/cloudsql/proj:region:inst", "USER": "app"}),
    ("postgres://u:pw@db.example.com:6432/gova?sslmode=verify-full&sslrootcert=/ca.pem",
     {"HOST": "db.example.com", "PORT": "6432", "OPTIONS": {"sslmode": "verify-full", "sslrootcert": "/ca.pem"}}),
    ("postgres://u:p%40ss%2Fw%23rd%3F%25@h/db", {"PASSWORD": "p@ss/w#rd?%", "HOST": "h"}),
    ("postgresql://u@[::1]:5432/my%20db", {"HOST": "::1", "PORT": "5432", "NAME": "my db"}),
    ("postgres://u@SocketCase/db?port=5433", {"HOST": "SocketCase", "PORT": "5433"}),
])  # fmt: skip
def test_libpq_url_forms_become_the_right_settings(url, expected):
    config = database_from_url(url)
    assert {key: config[key] for key in expected} == expected


def test_database_password_replaces_the_urls_so_it_needs_no_escaping():
    assert database_from_url("postgres://gova@db:5432/gova", password="a/b#c?d@e")["PASSWORD"] == "a/b#c?d@e"


@pytest.mark.parametrize(("url", "expected"), [
    ("postgres://u:pa#ss@h/db", {"PASSWORD": "pa#ss", "HOST": "h", "NAME": "db"}),  # libpq reads # and ? as text
    ("postgres://u:s?xyz@h/db", {"PASSWORD": "s?xyz", "HOST": "h", "NAME": "db"}),
    ("pgsql://u@h:5432/db?application_name=g", {"HOST": "h", "PORT": "5432", "OPTIONS": {"application_name": "g"}}),
    ("postgres://u@h1:5432,h2:5433/db?target_session_attrs=read-write", {"HOST": "h1,h2", "PORT": "5432,5433"}),
    ("host=/var/run/postgresql dbname=gova user=app", {"HOST": "/var/run/postgresql", "NAME": "gova", "USER": "app"}),
])  # fmt: skip
def test_what_libpq_accepts_is_accepted_as_libpq_reads_it(url, expected):
    config = database_from_url(url)
    assert {key: config[key] for key in expected} == expected


@pytest.mark.parametrize(("url", "message", "secret"), [
    ("postgres://u:se/cret@h:5432/db", "a port that is not a number", "cret"),
    ("postgres://u:p%zzss@h/db", "invalid percent-encoded token", "zzss"),
    ("postgres://u:pw@h/db?bogus=1", 'invalid URI query parameter: "bogus"', "pw"),
    ("host=h password=hidden dbname", "missing", "hidden"),
    ("mysql://u:hidden@h/db", "must be a PostgreSQL URL", "hidden"),
    ("postgres://u:hidden@h/", "names no database", "hidden"),
])  # fmt: skip
def test_a_malformed_url_is_one_clear_error_that_shows_no_part_of_the_password(url, message, secret):
    with pytest.raises(ImproperlyConfigured, match=r"^DATABASE_URL ") as error:
        database_from_url(url)
    assert message in str(error.value) and secret not in str(error.value)


@pytest.fixture
def socket_server(pg_folder):
    """An extra embedded server that also listens on a Unix socket, with password login there too."""
    socket_dir = Path(pg_folder).parent / "sock"
    socket_dir.mkdir()
    server = EmbeddedPostgres(pg_folder, os.environ.get("GOVA_PG_BIN") or None, {"unix_socket_directories": socket_dir})
    if os.geteuid() == 0:
        server._give_to_server_user(socket_dir)
    info = server.ensure_running()
    hba = server.data_dir / "pg_hba.conf"
    hba.write_text(hba.read_text().replace(" peer", " scram-sha-256"))
    password = "p@ss/w#rd?%:x"
    with psycopg.connect(host=info.host, port=info.port, user=info.user, password=info.password, autocommit=True,
                         dbname="postgres") as conn:  # fmt: skip
        conn.execute("SELECT pg_reload_conf()")
        conn.execute(psycopg.sql.SQL("ALTER ROLE postgres PASSWORD {}").format(password))
    yield socket_dir, info.port, password
    server.stop()


def test_a_real_connection_through_a_unix_socket_with_a_percent_encoded_password(socket_server, manage):
    socket_dir, port, password = socket_server
    script = "from django.db import connection; connection.ensure_connection(); print(connection.connection.info.host)"
    for url in [
        f"postgres://postgres:{quote(password, safe='')}@{quote(str(socket_dir), safe='')}:{port}/postgres",
        f"postgres://postgres:{quote(password, safe='')}@/postgres?host={socket_dir}&port={port}",
    ]:
        result = manage("shell", "-c", script, env={"DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == str(socket_dir)


def test_the_embedded_database_keeps_its_connections_between_requests():
    # A new connection per request cost the development server 7.5 ms a page.
    config = database_from_url("")
    assert config["CONN_MAX_AGE"] == 60 and config["CONN_HEALTH_CHECKS"] is True


@pytest.mark.parametrize(("value", "threshold"), [("5", 5), ("0", 0), ("off", None), ("None", None), ("", None)])
def test_prepare_threshold_is_a_count_or_off(value, threshold):
    assert prepare_threshold(value) == threshold


@pytest.mark.parametrize("value", ["-1", "five", "1.5"])
def test_a_bad_prepare_threshold_says_what_it_wants(value):
    with pytest.raises(ImproperlyConfigured, match="GOVA_DB_PREPARE_THRESHOLD must be a whole number >= 0 or 'off'"):
        prepare_threshold(value)
