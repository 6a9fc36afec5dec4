import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from dbops.schema_check import check_schema


class Command(BaseCommand):
    help = (
        "Compare the live database with what its applied migrations build (replayed on a scratch database, "
        "dropped afterwards) and the models with the migrations. Exit 0 in sync, 1 on drift, 2 if the check "
        "could not run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="Database alias to check (default: 'default').")

    def handle(self, *args, database, **options):
        try:
            report = check_schema(database)
        except DatabaseError as exc:
            # Typically no CREATEDB right: distinct from drift, so CI can tell "wrong schema" from "cannot tell".
            raise CommandError(f"schema check could not run on '{database}': {exc}", returncode=2) from exc
        self.stdout.write(report.format(), ending="")
        if not report.in_sync:
            sys.exit(1)
