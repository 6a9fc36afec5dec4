"""gova.backend reads timestamps with psycopg's compiled parser and gives the ORM what Django's own loader gives."""

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg.types.datetime import TimestamptzLoader

from gova.backend.base import CompiledTzLoader

MOMENTS = [
    "2026-11-26 05:25:59.123456+00",
    "1999-12-31 23:59:59.999999+00",
    "2000-01-01 00:00:00+00",
    "0001-01-02 00:00:00+00",
    "9999-12-30 23:59:59.999999+00",
    "2026-03-29 01:30:00+00",  # the hour Europe's clocks skip
    "1970-01-01 00:00:00.5+00",
]


def django_loader(timezone):
    return type("SpecificTzLoader", (BaseTzLoader,), {"timezone": timezone})


def fetch(loader, session_zone: str) -> list:
    connection.ensure_connection()
    cursor = psycopg.Cursor(connection.connection)
    cursor.adapters.register_loader("timestamptz", loader)
    cursor.execute("SELECT set_config('TimeZone', %s, true)", [session_zone])
    cursor.execute("SELECT unnest(%s::text[])::timestamptz", [MOMENTS])
    return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
def test_the_orm_connection_parses_timestamps_with_the_compiled_loader():
    connection.ensure_connection()
    loader_class = connection.connection.adapters.get_loader(1184, psycopg.pq.Format.TEXT)
    assert issubclass(loader_class, CompiledTzLoader)
    assert loader_class.timezone == connection.timezone  # Django's check: no slow loader registered per cursor
    loader = loader_class(1184, connection.connection)
    if psycopg.pq.__impl__ == "binary":  # psycopg-binary, as requirements.txt pins
        assert loader._parse.__self__.__class__ is not TimestamptzLoader


@pytest.mark.django_db
@pytest.mark.parametrize("session_zone", ["UTC", "Asia/Kolkata", "America/St_Johns"])
@pytest.mark.parametrize("timezone_attached", ["django", None])
def test_values_are_those_of_djangos_loader(session_zone, timezone_attached):
    timezone = connection.timezone if timezone_attached == "django" else None
    ours = fetch(type("Ours", (CompiledTzLoader,), {"timezone": timezone}), session_zone)
    djangos = fetch(django_loader(timezone), session_zone)
    assert ours == djangos
    assert [(value.tzinfo, value.utcoffset()) for value in ours] == [
        (value.tzinfo, value.utcoffset()) for value in djangos
    ]


@pytest.mark.django_db
def test_values_in_djangos_zone_skip_the_python_step():
    """With the session in Django's zone (UTC), the compiled method is the loader's `load` itself; in another
    zone each value is relabelled with Django's tzinfo, as Django does."""
    connection.ensure_connection()
    pg = connection.connection
    loader_class = pg.adapters.get_loader(1184, psycopg.pq.Format.TEXT)
    if psycopg.pq.__impl__ != "binary":
        pytest.skip("no compiled loader without psycopg-binary")
    loader = loader_class(1184, pg)
    assert loader.load == loader._parse
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Asia/Kolkata'")
        try:
            loader = loader_class(1184, pg)
            assert loader.load != loader._parse
            assert loader.load(b"2026-11-26 10:00:00+05:30").tzinfo is connection.timezone
        finally:
            cursor.execute("SET TIME ZONE 'UTC'")
