"""Django's PostgreSQL backend, reading timestamps with psycopg's compiled parser.

Django 5.2 replaces psycopg's timestamptz loader with a subclass of the pure-Python one, to attach its time zone
to each value, so every datetime a query returns is parsed by a regular expression in Python: ~8 us each, most of
the time of a 50-row page of actions with three timestamps (Django ticket #36960; psycopg's compiled loaders
cannot be subclassed, psycopg issue #1273). The loader here parses with psycopg's compiled loader when
psycopg-binary provides one and attaches the time zone as Django's does, so the ORM sees the same values; with the
session in Django's zone (as Django sets it on connect) the compiled values already carry it and are returned as
they are, with no Python call per value (the page of actions: ~1.0 -> ~0.8 ms).
"""

from functools import lru_cache

from django.db.backends.postgresql import base, operations
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg.adapt import AdaptersMap
from psycopg.types.datetime import TimestamptzLoader

from gova.redaction import names_a_secret


class CompiledTzLoader(BaseTzLoader):
    """Django's loader (same `timezone` attribute, same result) with psycopg's compiled parsing underneath."""

    def __init__(self, oid, context=None):
        super().__init__(oid, context)
        # A private psycopg helper, the only way to the compiled class; without it, Python parsing as before.
        optimised = getattr(context.adapters if context is not None else None, "_get_optimised", None)
        compiled = optimised(TimestamptzLoader) if optimised else TimestamptzLoader
        self._parse = compiled(oid, context).load if compiled is not TimestamptzLoader else super().load
        if compiled is not TimestamptzLoader and self._parse(b"2000-01-01 00:00:00+00").tzinfo is self.timezone:
            # The session's time zone is Django's (it sets it on connect: UTC with USE_TZ), so psycopg's values
            # already carry Django's tzinfo: the compiled method itself, no Python call per value (~2 us each).
            self.load = self._parse

    def load(self, data):
        return self._parse(data).replace(tzinfo=self.timezone)


@lru_cache
def with_compiled_tz_loader(template: AdaptersMap, timezone) -> AdaptersMap:
    """Django's adapters template for this time zone, its timestamptz loader swapped (one map per template)."""
    adapters = AdaptersMap(template)
    adapters.register_loader("timestamptz", type("CompiledTzLoader", (CompiledTzLoader,), {"timezone": timezone}))
    return adapters


class DatabaseOperations(operations.DatabaseOperations):
    def last_executed_query(self, cursor, sql, params):
        """The SQL as sent, values and all (Django's query log shows it), except for a statement naming a secret:
        that one is shown with its placeholders."""
        if params and names_a_secret(sql):
            return sql
        return super().last_executed_query(cursor, sql, params)


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations

    def get_connection_params(self):
        params = super().get_connection_params()
        params["context"] = with_compiled_tz_loader(params["context"], self.timezone)
        return params
