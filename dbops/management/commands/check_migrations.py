from django.core.management.base import BaseCommand, CommandError

from dbops.conventions import convention_violations


class Command(BaseCommand):
    help = "Check this project's migrations follow its conventions (reversible, uuidv7 keys, concurrent event indexes)."

    def add_arguments(self, parser):
        parser.add_argument("app_label", nargs="*", help="Only these apps (default: the project's own).")

    def handle(self, *args, app_label, **options):
        problems = convention_violations(app_label or None)
        if problems:
            raise CommandError("migration conventions broken:\n  " + "\n  ".join(problems))
        self.stdout.write("migrations follow the conventions")
