"""ensure_superuser applies createsuperuser's validators and says which variable is wrong."""

import pytest
from django.core.management import CommandError, call_command

from accounts.models import User

GOOD = {"DJANGO_SUPERUSER_USERNAME": "root", "DJANGO_SUPERUSER_EMAIL": "root@example.com",
        "DJANGO_SUPERUSER_PASSWORD": "a long unusual passphrase"}  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(("variable", "value", "message"), [
    ("DJANGO_SUPERUSER_PASSWORD", "1", "too short"),
    ("DJANGO_SUPERUSER_PASSWORD", "password123", "too common"),
    ("DJANGO_SUPERUSER_PASSWORD", "root@example.com", "too similar"),
    ("DJANGO_SUPERUSER_USERNAME", "bad name!", "valid username"),
    ("DJANGO_SUPERUSER_EMAIL", "notanemail", "valid email"),
])  # fmt: skip
def test_invalid_credentials_are_refused_with_one_line_and_nothing_created(monkeypatch, variable, value, message):
    for key, good in {**GOOD, variable: value}.items():
        monkeypatch.setenv(key, good)
    with pytest.raises(CommandError) as refused:
        call_command("ensure_superuser")
    text = str(refused.value)
    assert text.startswith(f"{variable}: ") and message in text and "\n" not in text
    assert not User.objects.filter(is_superuser=True).exists()


@pytest.mark.django_db
def test_valid_credentials_create_the_superuser(monkeypatch):
    for key, value in GOOD.items():
        monkeypatch.setenv(key, value)
    call_command("ensure_superuser", stdout=open("/dev/null", "w"))
    assert User.objects.get(username="root").check_password(GOOD["DJANGO_SUPERUSER_PASSWORD"])
