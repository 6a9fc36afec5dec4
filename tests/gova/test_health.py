"""GET /healthz, the container's healthcheck."""

import pytest


@pytest.mark.django_db
def test_healthz_answers_ok_whatever_the_host_header(client, settings):
    settings.ALLOWED_HOSTS = ["gova.example.com"]  # the probe comes from inside the container as 127.0.0.1
    response = client.get("/healthz", HTTP_HOST="127.0.0.1:8000")
    assert (response.status_code, response.content) == (200, b"ok\n")
    assert client.get("/admin/", HTTP_HOST="127.0.0.1:8000").status_code == 400  # every other path is checked
