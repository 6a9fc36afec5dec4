"""OAuth payload conversion in batches: every row is visited once, whatever the batch size."""

import json

import pytest
from django.db import connection

from accounts.models import User
from takeover import adoption
from tests.factories import UserFactory
from tests.old_service import LEGACY_KEY, seal

pytestmark = pytest.mark.django_db


def test_payloads_are_converted_batch_by_batch_and_read_back_through_the_field(monkeypatch):
    monkeypatch.setattr(adoption, "BATCH_SIZE", 2)
    users = UserFactory.create_batch(5)
    with connection.cursor() as cursor:
        for n, user in enumerate(users):
            stored = seal({"n": n}, str(user.pk)) if n % 2 else json.dumps({"n": n})
            cursor.execute("UPDATE users SET discord_oauth_payload = %s WHERE user_id = %s", [stored, user.pk])
    progress = []
    counts, unreadable = adoption.payloads_to_django(
        connection, LEGACY_KEY.encode(), write=True, progress=progress.append
    )
    assert counts == {"encrypted": 2, "plaintext": 3} and unreadable == []
    assert progress[-1].endswith("5/5")
    assert [User.objects.get(pk=user.pk).discord_oauth_payload for user in users] == [{"n": n} for n in range(5)]


def test_a_payload_this_project_encrypted_already_is_left_alone_and_not_reported():
    user = UserFactory()
    User.objects.filter(pk=user.pk).update(discord_oauth_payload={"mine": True})
    counts, unreadable = adoption.payloads_to_django(connection, LEGACY_KEY.encode(), write=True)
    assert counts == {"encrypted": 0, "plaintext": 0} and unreadable == []
    assert User.objects.get(pk=user.pk).discord_oauth_payload == {"mine": True}
