import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Create the admin user unless a superuser exists. Credentials come from DJANGO_SUPERUSER_USERNAME, "
        "DJANGO_SUPERUSER_EMAIL and DJANGO_SUPERUSER_PASSWORD; an empty password is generated and printed once. "
        "They pass the same validators as createsuperuser."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        users = User.objects
        if users.filter(is_superuser=True).exists():
            self.stdout.write("admin user: a superuser exists already, none created")
            return
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME") or "admin"
        email = os.environ.get("DJANGO_SUPERUSER_EMAIL") or "admin@example.com"
        given_password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        password = given_password or secrets.token_urlsafe(12)
        _validate(User, username=username, email=email, password=password)
        users.create_superuser(username=username, email=email, password=password)
        if given_password:
            self.stdout.write(f"admin user: {username} created with DJANGO_SUPERUSER_PASSWORD")
        else:
            # Shown once, on the terminal of whoever set the project up; never logged or stored.
            self.stdout.write(f"admin user: {username} created; password (shown once): {password}")


def _validate(User, *, username: str, email: str, password: str) -> None:
    """createsuperuser's checks: each field's validators, then AUTH_PASSWORD_VALIDATORS against the user."""
    checks = [
        ("DJANGO_SUPERUSER_USERNAME", lambda: User._meta.get_field(User.USERNAME_FIELD).clean(username, None)),
        ("DJANGO_SUPERUSER_EMAIL", lambda: User._meta.get_field(User.EMAIL_FIELD).clean(email, None)),
        ("DJANGO_SUPERUSER_PASSWORD", lambda: validate_password(password, User(username=username, email=email))),
    ]
    for variable, check in checks:
        try:
            check()
        except ValidationError as exc:
            raise CommandError(f"{variable}: {' '.join(exc.messages)} No user was created.") from None
