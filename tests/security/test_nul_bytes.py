"""A NUL character in a request is a 400, never a DataError from PostgreSQL (a 500)."""

import pytest
from django.urls import reverse


@pytest.mark.parametrize("params", [{"status__exact": "\x00"}, {"q": "a\x00b"}, {"status\x00": "completed"}])
def test_nul_in_admin_changelist_parameters_is_a_bad_request(admin_client, params):
    response = admin_client.get(reverse("admin:moderation_actionevent_changelist"), params)
    assert response.status_code == 400


def test_nul_in_a_posted_form_is_a_bad_request(admin_client):
    response = admin_client.post(reverse("admin:moderation_moderator_changelist"), {"q": "\x00"})
    assert response.status_code == 400


def test_parameters_without_nul_still_filter(admin_client):
    response = admin_client.get(reverse("admin:moderation_actionevent_changelist"), {"status__exact": "completed"})
    assert response.status_code == 200
