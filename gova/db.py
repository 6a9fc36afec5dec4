"""Database expressions and key generation shared by every app. Migrations import these paths: never move them."""

import os
import threading
import time
import uuid

import numpy as np
from django.db import models
from django.db.models import Func, Value


class UUIDv7(Func):
    """Time-ordered keys keep B-tree inserts at the right edge.

    Native on PostgreSQL 18; on older servers dbops' first migration creates a function of
    the same name. Used as `db_default`, so rows inserted by any writer get a key.
    """

    function = "uuidv7"
    arity = 0
    output_field = models.UUIDField()


class NextVal(Func):
    """nextval() of a sequence, as a column's `db_default`: every writer that leaves the column out of its INSERT
    gets the sequence's next number."""

    function = "nextval"
    arity = 1
    output_field = models.BigIntegerField()

    def __init__(self, sequence: str, **extra):
        super().__init__(Value(sequence), **extra)


_last_timestamp = 0
_timestamp_lock = threading.Lock()


def uuid7() -> uuid.UUID:
    """An RFC 9562 version-7 UUID, strictly increasing within this process.

    Built like PostgreSQL 18's uuidv7() (method 3): 48 bits of Unix milliseconds, then 12 bits
    of sub-millisecond fraction, then 62 random bits. When two calls land in the same tick the
    74-bit timestamp steps up by one, so keys made in a burst still sort in creation order
    without drifting ahead of the clock (the `uuid6` package adds a whole millisecond per call,
    which puts a bulk insert of 100k rows 100 s into the future).

    The ORM fills primary keys with this in Python, so save(), create() and bulk_create() return
    objects with their key on Django 5.2 (whose bulk_create leaves DatabaseDefault placeholders
    for database-generated keys, ticket #36260) and full_clean()'s unique check filters on a
    real value instead of `= uuidv7()` (ticket #37248).
    """
    global _last_timestamp
    now_ns = time.time_ns()
    timestamp = (now_ns // 1_000_000) << 12 | (now_ns % 1_000_000) * 4096 // 1_000_000
    with _timestamp_lock:
        timestamp = max(timestamp, _last_timestamp + 1)
        _last_timestamp = timestamp
    unix_ms, fraction = timestamp >> 12, timestamp & 0xFFF
    random_bits = int.from_bytes(os.urandom(8)) & 0x3FFF_FFFF_FFFF_FFFF
    return uuid.UUID(int=unix_ms << 80 | 0x7 << 76 | fraction << 64 | 0b10 << 62 | random_bits)


def uuid7_block(count: int) -> bytes:
    """`count` consecutive uuid7() keys as 16 bytes each, from one clock read and one urandom call, built with
    numpy (batch ingest sends them to PostgreSQL as one binary uuid[]: no UUID object per row)."""
    global _last_timestamp
    now_ns = time.time_ns()
    timestamp = (now_ns // 1_000_000) << 12 | (now_ns % 1_000_000) * 4096 // 1_000_000
    with _timestamp_lock:
        timestamp = max(timestamp, _last_timestamp + 1)
        _last_timestamp = timestamp + count - 1
    stamps = timestamp + np.arange(count, dtype=np.uint64)
    keys = np.empty((count, 2), dtype=">u8")
    keys[:, 0] = (stamps >> np.uint64(12)) << np.uint64(16) | np.uint64(0x7 << 12) | (stamps & np.uint64(0xFFF))
    random_bits = np.frombuffer(os.urandom(8 * count), dtype=np.uint64) & np.uint64(0x3FFF_FFFF_FFFF_FFFF)
    keys[:, 1] = random_bits | np.uint64(0b10 << 62)
    return keys.tobytes()


def uuid7_primary_key(**kwargs) -> models.UUIDField:
    """The primary key of every table: uuid7() from the ORM, uuidv7() for every other writer."""
    return models.UUIDField(primary_key=True, default=uuid7, db_default=UUIDv7(), editable=False, **kwargs)
