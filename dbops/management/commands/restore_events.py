from django.core.management.base import BaseCommand

from dbops.backups import BackupError, progress_printer, restore_backup

FOREIGN_KEY_VIOLATION = "23503"


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
        try:
            loaded = restore_backup(path, truncate=truncate, progress=progress_printer(self.stderr))
        except BackupError as exc:
            if _sqlstate(exc) != FOREIGN_KEY_VIOLATION:
                raise
            # A backup holds events only: in a fresh database their moderators (and users) are missing.
            raise BackupError(
                f"{exc}. Bring the events' users and moderators along first: on the source, `python manage.py "
                "dumpdata accounts.User moderation.Moderator -o owners.json`; here, `python manage.py loaddata "
                "owners.json` (it holds password hashes and tokens: keep it like the database, delete it after), "
                "then restore again."
            ) from None
        self.stdout.write(f"Restored from {path}")
        for table, rows in loaded.items():
            self.stdout.write(f"  {table}: {rows:,} rows")


def _sqlstate(exc) -> str | None:
    """The SQLSTATE of the psycopg error at the root of `exc`, if any."""
    while exc is not None:
        if getattr(exc, "sqlstate", None):
            return exc.sqlstate
        exc = exc.__cause__
    return None
