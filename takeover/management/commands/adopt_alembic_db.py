from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

from accounts.legacy_formats import FORMATS_VARIABLE, LEGACY_KEY_VARIABLE, legacy_key
from dbops.locking import migration_session
from takeover import adoption


class Command(BaseCommand):
    help = (
        "Take over a database of the old Alembic service (revision 6cd8e388a6c5) in place: check its schema, "
        "refuse rows our constraints reject, convert password hashes and OAuth payloads (not with "
        f"{FORMATS_VARIABLE}=true, which keeps the old service's formats so that it can run on), bring the schema "
        "to our migrations in one transaction, then apply later migrations. --revert hands it back. The old "
        f"service's ENCRYPTION_KEY comes from {LEGACY_KEY_VARIABLE} in the environment (or .env) only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Print the whole plan; change nothing.")
        parser.add_argument(
            "--revert",
            action="store_true",
            help="Return an adopted database to the old service's schema, hashes, payloads and alembic_version.",
        )
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, dry_run, revert, database, **options):
        connection = connections[database]
        key = legacy_key()

        def say(line):
            self.stdout.write(line)

        try:
            if dry_run:
                try:
                    plan = (adoption.revert_plan if revert else adoption.adoption_plan)(connection, key)
                except DatabaseError as exc:
                    # Typically no right to create the scratch databases the plan is computed on.
                    first_line = str(exc).strip().splitlines()[0]
                    raise CommandError(f"the dry run could not plan (nothing was changed): {first_line}") from exc
                self.stdout.write(adoption.format_plan(plan), ending="")
                if key is None and (sum(plan.payloads.values()) or plan.unreadable_payloads):
                    self.stdout.write(f"{LEGACY_KEY_VARIABLE} is not set: the real run will refuse.")
                self.stdout.write("Dry run: nothing was changed.")
                return
            with migration_session(connection):
                if revert:
                    plan = adoption.revert(connection, key, say)
                    self.stdout.write(adoption.format_leftovers(plan), ending="")
                    self.stdout.write(self.style.SUCCESS("reverted: the old service can run on this database again."))
                    return
                plan = adoption.adopt(connection, key, say)
                self.stdout.write(adoption.format_leftovers(plan), ending="")
                self.stdout.write(self.style.SUCCESS("adopted; applying the migrations added since the baseline"))
                call_command("migrate", database=database, interactive=False, stdout=self.stdout)
        except adoption.NothingToDo as exc:
            self.stdout.write(str(exc))
