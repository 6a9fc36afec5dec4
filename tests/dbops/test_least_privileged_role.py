"""migrate as a role that is not a superuser: one line saying what an administrator must run, then it works."""

import secrets

import psycopg
import pytest

ROLE = "gova_migrator"
DATABASE = "gova_least_privilege"


@pytest.fixture
def least_privileged_database(server_login):
    """A database owned by a plain LOGIN role (no SUPERUSER, no CREATEDB, no CREATEROLE), as a DBA would hand out."""
    password = secrets.token_urlsafe(12)
    admin = server_login
    with psycopg.connect(**admin, dbname="postgres", autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{password}'")
        conn.execute(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
    try:
        yield admin, f"postgres://{ROLE}:{password}@{admin['host']}:{admin['port']}/{DATABASE}"
    finally:
        with psycopg.connect(**admin, dbname="postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            conn.execute(f"DROP ROLE IF EXISTS {ROLE}")


def test_a_role_that_may_not_create_vector_gets_one_line_and_after_the_admin_step_migrates(
    least_privileged_database, manage
):
    admin, url = least_privileged_database
    result = manage("migrate", env={"DATABASE_URL": url})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"an administrator must run `CREATE EXTENSION vector;` in {DATABASE}" in result.stderr

    # The documented least privileges: owner of its database, and vector created once by an administrator.
    with psycopg.connect(**admin, dbname=DATABASE, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION vector")
    result = manage("migrate", env={"DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
