"""Embeddings on the wire: their width, and the psycopg cursor that sends vectors and arrays in binary.

The models, the ingest path, similar-content search and trends read this module; it reads none of them, so each
of them can depend on it without depending on another.
"""

import struct

import numpy as np
import psycopg
from psycopg.types import TypeInfo

# Width of EvaluationEvent.embedding: Qwen3-Embedding-0.6B gives 1024. A constant, not a setting: the
# column's type is schema, so changing it is a migration (and a re-embedding of every stored row).
EMBEDDING_DIMENSIONS = 1024

ARRAY_HEADER = struct.Struct(">iiIii")  # dimensions, has NULLs, element type, length, lower bound
LENGTH = struct.Struct(">i")
NULL_ELEMENT = LENGTH.pack(-1)


class BinaryArray:
    """A one-dimensional array parameter already in PostgreSQL's binary array format (array_recv's layout), built
    in one pass instead of one psycopg dumper call per element: a batch of 1,000 rows binds in ~2 ms instead of
    ~12 ms. Its dumper leaves the type to the SQL's cast (%(name)b::uuid[]), which must name the element type.
    """

    __slots__ = ("data",)

    def __init__(self, data: bytes):
        self.data = data

    @classmethod
    def of_fixed(cls, elements: bytes, width: int, element_oid: int) -> "BinaryArray":
        """Elements of one width, none NULL, concatenated in their type's binary form."""
        count = len(elements) // width
        framed = np.empty(count, dtype=[("length", ">i4"), ("value", f"V{width}")])
        framed["length"] = width
        framed["value"] = np.frombuffer(elements, dtype=f"V{width}")
        return cls(ARRAY_HEADER.pack(1, 0, element_oid, count, 1) + framed.tobytes())

    @classmethod
    def of_values(cls, elements: list, element_oid: int) -> "BinaryArray":
        """Elements in their type's binary form (bytes of any width), None for NULL."""
        parts = [ARRAY_HEADER.pack(1, any(element is None for element in elements), element_oid, len(elements), 1)]
        for element in elements:
            if element is None:
                parts.append(NULL_ELEMENT)
            else:
                parts += (LENGTH.pack(len(element)), element)
        return cls(b"".join(parts))


class BinaryArrayDumper(psycopg.adapt.Dumper):
    format = psycopg.pq.Format.BINARY

    def dump(self, obj: BinaryArray) -> bytes:
        return obj.data


# -- per-connection type information and cursor (made once per psycopg connection) ---------------------------


def vector_info(pg_connection) -> TypeInfo:
    info = getattr(pg_connection, "_gova_vector_info", None)
    if info is None:
        info = TypeInfo.fetch(pg_connection, "vector")
        pg_connection._gova_vector_info = info
    return info


def vector_cursor(pg_connection: psycopg.Connection) -> psycopg.Cursor:
    """This connection's binary_vector_cursor, made once and kept open: registering the adapters on a new cursor
    costs ~0.18 ms, a fifth of a single insert's round trip. Django's connections are per thread, so is this."""
    cursor = getattr(pg_connection, "_gova_vector_cursor", None)
    if cursor is None or cursor.closed:
        cursor = pg_connection._gova_vector_cursor = binary_vector_cursor(pg_connection, vector_info(pg_connection))
    return cursor


def binary_vector_cursor(pg_connection, info: TypeInfo):
    """A server-binding cursor sending numpy vectors (and arrays of them) in pgvector's binary format.

    Django's connection makes client-binding cursors (parameters spliced into the SQL text) and its ORM keeps
    them; this cursor is ours alone, as are the vector adapters registered on it.
    """
    from pgvector.psycopg.vector import register_vector_info

    cursor_class = psycopg.AsyncCursor if isinstance(pg_connection, psycopg.AsyncConnection) else psycopg.Cursor
    cursor = cursor_class(pg_connection)
    register_vector_info(cursor, info)
    cursor.adapters.register_dumper(BinaryArray, BinaryArrayDumper)
    return cursor
