from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from dbops.backups import create_backup, progress_printer
from dbops.event_tables import EVENT_TABLES


class Command(BaseCommand):
    help = (
        "Back up the event tables into one gzipped, checksummed tar file (COPY text format), "
        "read in one consistent snapshot. Progress goes to stderr."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--table",
            action="append",
            choices=EVENT_TABLES,
            dest="tables",
            help="A table to back up; repeat for several. Default: all event tables.",
        )
        parser.add_argument(
            "--output-dir",
            type=Path,
            help="Where the backup goes. Default: settings.GOVA_BACKUP_DIR, else backups/ in the project.",
        )

    def handle(self, *args, tables, output_dir, **options):
        missing = sorted(set(tables or EVENT_TABLES) - set(connection.introspection.table_names()))
        if missing:
            raise CommandError(
                f"{', '.join(missing)} not in database {connection.settings_dict['NAME']!r}: nothing to back up "
                "(run `python manage.py migrate` to create the tables, or check DATABASE_URL)"
            )
        output_dir = output_dir or getattr(settings, "GOVA_BACKUP_DIR", settings.BASE_DIR / "backups")
        result = create_backup(tables or EVENT_TABLES, output_dir, progress=progress_printer(self.stderr))
        self.stdout.write(f"Backed up to {result.path}")
        for table, rows in result.rows.items():
            self.stdout.write(f"  {table}: {rows:,} rows")
        self.stdout.write(f"SHA-256 {result.sha256}")
