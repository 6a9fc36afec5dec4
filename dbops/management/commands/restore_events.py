from django.core.management.base import BaseCommand

from dbops.backups import progress_printer, restore_backup


class Command(BaseCommand):
    help = (
        "Restore the event tables from a backup_events file in one transaction. Checksums and columns "
        "are checked first; any failure changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The .tar file backup_events wrote.")
        parser.add_argument(
            "--truncate",
            action="store_true",
            help="Empty the tables in the backup first (same transaction). Without it they must be empty.",
        )

    def handle(self, *args, path, truncate, **options):
        loaded = restore_backup(path, truncate=truncate, progress=progress_printer(self.stderr))
        self.stdout.write(f"Restored from {path}")
        for table, rows in loaded.items():
            self.stdout.write(f"  {table}: {rows:,} rows")
