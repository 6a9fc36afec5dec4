from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devdb.backend.base import embedded_server
from devdb.server import EmbeddedPostgresError
from gova.database_url import EMBEDDED_ENGINE


class Command(BaseCommand):
    help = "Start, stop or show the embedded PostgreSQL used when DATABASE_URL is unset."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "stop", "status"])

    def handle(self, *args, action, **options):
        if settings.DATABASES["default"]["ENGINE"] != EMBEDDED_ENGINE:
            raise CommandError("DATABASE_URL is set: the project uses that server, not the embedded one")
        server = embedded_server()
        try:
            if action == "start":
                info = server.ensure_running()
                self.stdout.write(f"running on 127.0.0.1:{info.port}, data in {server.folder}")
            elif action == "stop":
                self.stdout.write("stopped" if server.stop() else "not running")
            else:
                port = server.running_port()
                state = f"running on 127.0.0.1:{port}" if port else "not running"
                # As root in a private folder the cluster lives elsewhere (devdb.server); say where.
                where = f"{server.folder}" if server.data_dir.parent == server.folder else f"{server.data_dir}"
                self.stdout.write(f"{state}; data in {where}; {server.version}")
        except EmbeddedPostgresError as exc:
            raise CommandError(str(exc)) from None
