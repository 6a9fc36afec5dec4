"""Settings refuse what would start and fail later, and the documented production values pass `check --deploy`."""

import pytest

# The production values docs/production.md documents (and .env.example lists).
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "k8Vq2m0ZrT4yN7xPw1sLc9bHf3gJd6uA-e5oRiWn_QzKjYtX8vBp",
    "DJANGO_ALLOWED_HOSTS": "gova.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://gova.example.com",
    "DJANGO_HTTPS": "true",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
}


@pytest.mark.parametrize("salts", ["", ",", " , "])
def test_an_empty_salt_list_stops_start_up_with_one_line(manage, salts):
    result = manage("check", env={"FIELD_ENCRYPTION_SALT_KEYS": salts})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "FIELD_ENCRYPTION_SALT_KEYS" in result.stderr


def test_a_malformed_proxy_ssl_header_is_one_line(manage):
    result = manage("check", env={"DJANGO_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO"})
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "DJANGO_SECURE_PROXY_SSL_HEADER" in result.stderr


def test_check_deploy_is_clean_with_the_documented_production_settings(manage):
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_the_production_settings_are_in_env_example():
    from tests.conftest import PROJECT_DIR

    example_keys = {line.split("=", 1)[0] for line in (PROJECT_DIR / ".env.example").read_text().splitlines()}
    assert set(PRODUCTION) <= example_keys


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        pytest.param(
            {"GOVA_LEGACY_ENCRYPTION_KEY": "sekrit-value"}, "GOVA_LEGACY_ENCRYPTION_KEY", id="key of 12 bytes"
        ),
        pytest.param(
            {"GOVA_LEGACY_FORMATS": "true", "GOVA_LEGACY_ENCRYPTION_KEY": ""},
            "GOVA_LEGACY_ENCRYPTION_KEY",
            id="legacy formats without the key",
        ),
        pytest.param({"GOVA_LEGACY_FORMATS": "ture"}, "GOVA_LEGACY_FORMATS", id="not a boolean"),
    ],
)
def test_legacy_format_settings_that_cannot_work_stop_start_up_with_one_line(manage, env, variable):
    result = manage("check", env=env)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and variable in result.stderr
    assert "sekrit" not in result.stderr  # the key's length is told, never its value
