"""Logging is configured once: no line printed twice, and a bad Host header is one line."""

import pytest

PROBE = "import logging; logging.getLogger('django.request').warning('probe-line')"
BAD_HOST = "from django.test import Client; print(Client().get('/admin/', HTTP_HOST='scanner.example').status_code)"


@pytest.mark.parametrize("debug", ["true", "false"])
def test_a_django_log_line_is_printed_once(manage, debug):
    result = manage("shell", "-c", PROBE, env={"DJANGO_DEBUG": debug})
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("probe-line") == 1, result.stderr


def test_a_bad_host_header_logs_one_line_without_a_traceback(manage):
    result = manage("shell", "-c", BAD_HOST, env={"DJANGO_DEBUG": "false", "DJANGO_ALLOWED_HOSTS": "gova.example.com"})
    assert result.stdout.strip().splitlines()[-1] == "400", result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if "DisallowedHost" in line or "HTTP_HOST" in line]
    assert line.startswith("ERROR django.security.DisallowedHost: Invalid HTTP_HOST header: 'scanner.example'")
