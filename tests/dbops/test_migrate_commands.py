"""The Django workflow on this schema: makemigrations finds nothing the migrations lack.

(Every migration to zero and back with rows: tests/dbops/test_migration_round_trips.py.)
"""

import io

import pytest
from django.core.management import call_command


@pytest.mark.django_db  # makemigrations reads the applied history to check its consistency
def test_makemigrations_check_finds_no_changes():
    # SystemExit(1) when the models have changes that no migration records.
    call_command("makemigrations", "--check", "--dry-run", stdout=io.StringIO())
