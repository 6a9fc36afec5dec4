import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the admin user unless a superuser exists. Credentials come from DJANGO_SUPERUSER_USERNAME, "
        "DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD; an empty password is generated and printed once."
    )

    def handle(self, *args, **options):
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            self.stdout.write("admin user: a superuser exists already, none created")
            return
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "admin"
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL") or "admin@example.com"
        given_password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        password = given_password or secrets.token_urlsafe(12)
        users.create_superuser(username=username, email=email, password=password)
        if given_password:
            self.stdout.write(f"admin user: {username} created with DJANGO_SUPERUSER_PASSWORD")
        else:
            # Shown once, on the terminal of whoever set the project up; never logged or stored.
            self.stdout.write(f"admin user: {username} created; password (shown once): {password}")
