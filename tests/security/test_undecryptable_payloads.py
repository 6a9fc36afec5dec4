"""Pages that do not show the OAuth payload neither load nor decrypt it: a row written under a key that
is gone (a lost key, the old service) is still listed, viewed, saved and deleted."""

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.fields import DecryptionError
from accounts.models import User
from moderation.models import Moderator
from tests.factories import ModeratorFactory, UserFactory


@pytest.fixture
def orphan(db):
    """A user whose payload was written under a salt this deployment does not have."""
    with override_settings(SALT_KEY=["a-salt-this-deployment-never-had"]):
        user = UserFactory(username="orphan", discord_oauth_payload={"access_token": "lost"})
    ModeratorFactory(user=user)
    return user


def stored_token(user):
    with connection.cursor() as cursor:
        cursor.execute("SELECT discord_oauth_payload FROM users WHERE user_id = %s", [user.pk])
        return cursor.fetchone()[0]


def test_the_moderator_list_neither_reads_nor_decrypts_its_owners_secrets(admin_client, orphan):
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse("admin:moderation_moderator_changelist"))
    assert response.status_code == 200 and "orphan" in response.content.decode()
    listing = [query["sql"] for query in queries.captured_queries if 'FROM "moderators"' in query["sql"]]
    assert listing and not any(column in sql for sql in listing for column in ("discord_oauth_payload", "jwt"))


@pytest.mark.parametrize("page", ["changelist", "change", "delete"])
def test_user_pages_render(admin_client, orphan, page):
    args = [] if page == "changelist" else [orphan.pk]
    assert admin_client.get(reverse(f"admin:accounts_user_{page}", args=args)).status_code == 200


def test_the_moderator_change_page_renders(admin_client, orphan):
    moderator = Moderator.objects.get(user=orphan)
    assert admin_client.get(reverse("admin:moderation_moderator_change", args=[moderator.pk])).status_code == 200


def test_the_user_is_deleted_from_the_admin(admin_client, orphan):
    response = admin_client.post(reverse("admin:accounts_user_delete", args=[orphan.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=orphan.pk).exists() and not Moderator.objects.filter(user=orphan).exists()


def test_following_the_foreign_key_loads_the_user_and_only_reading_the_payload_fails(orphan):
    user = Moderator.objects.get(user=orphan).user
    assert user.username == "orphan"
    with pytest.raises(DecryptionError):
        user.discord_oauth_payload  # noqa: B018


def test_saving_a_row_whose_payload_was_not_read_keeps_the_stored_token(orphan):
    before = stored_token(orphan)
    user = User._base_manager.get(pk=orphan.pk)  # every column loaded, the payload included
    user.pricing_tier = "pro"
    user.save()
    assert stored_token(orphan) == before
