#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gova.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    from gova.database_url import connection_failure

    try:
        settings.INSTALLED_APPS  # noqa: B018 - loads settings: a bad environment fails here
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        # A bad DATABASE_URL, a missing key, an embedded server that cannot start: one line, no traceback.
        sys.exit(f"error: {exc}")
    except OperationalError as exc:
        # A server that is down or refuses us: one line naming where, not 80 lines of driver frames.
        message = connection_failure(exc)
        if message is None:
            raise
        sys.exit(f"error: {message}")


if __name__ == "__main__":
    main()
