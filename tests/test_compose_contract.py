"""No Docker engine here: the compose file and Dockerfile are checked as the contract they are."""

import re
import subprocess
import sys

import yaml
from django.conf import settings

COMPOSE_TEXT = (settings.BASE_DIR / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
DOCKERFILE = (settings.BASE_DIR / "Dockerfile").read_text()
DOCUMENTED = {
    line.split("=", 1)[0]
    for line in (settings.BASE_DIR / ".env.example").read_text().splitlines()
    if "=" in line and not line.startswith("#")
}


def test_db_service_is_postgres_18_with_pgvector_a_healthcheck_and_a_named_volume():
    db = COMPOSE["services"]["db"]
    assert db["image"].startswith("pgvector/pgvector:pg18")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume_name = db["volumes"][0].split(":")[0]
    assert volume_name in COMPOSE["volumes"]


def test_api_service_builds_the_dockerfile_waits_for_a_healthy_db_and_serves_with_gunicorn():
    api = COMPOSE["services"]["api"]
    assert api["build"] == "."
    assert api["depends_on"]["db"]["condition"] == "service_healthy"
    command = api.get("command") or DOCKERFILE.split("\nCMD ", 1)[1]
    assert "gunicorn gova.wsgi:application" in command
    assert "manage.py migrate" in command
    assert (
        api["environment"]["DATABASE_URL"].startswith("postgres://")
        and "@db:5432/" in api["environment"]["DATABASE_URL"]
    )


def test_compose_carries_no_secret_in_plain_text():
    api_env = COMPOSE["services"]["api"]["environment"]
    for key in ("DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_SALT_KEYS"):
        assert api_env[key].startswith("${"), f"{key} must come from the environment"
    assert COMPOSE["services"]["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${")


def test_dockerfile_installs_the_pinned_requirements_collects_static_files_and_runs_unprivileged():
    assert "pip install --no-cache-dir -r requirements.txt" in DOCKERFILE
    assert "collectstatic --noinput" in DOCKERFILE
    assert "\nUSER " in DOCKERFILE
    # The image serves its collected static files itself.
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE


def test_every_setting_the_compose_file_passes_or_reads_is_documented_in_env_example():
    assert set(COMPOSE["services"]["api"]["environment"]) <= DOCUMENTED
    assert set(re.findall(r"\$\{(\w+)", COMPOSE_TEXT)) <= DOCUMENTED


def test_every_variable_the_settings_read_is_documented_in_env_example():
    # Records what the settings module asks django-environ for, in a fresh interpreter.
    script = (
        "import environ\n"
        "asked = []\n"
        "get_value = environ.Env.get_value\n"
        "def recording(self, var, *args, **kwargs):\n"
        "    asked.append(var)\n"
        "    return get_value(self, var, *args, **kwargs)\n"
        "environ.Env.get_value = recording\n"
        "import gova.settings\n"
        "print(' '.join(asked))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    asked = set(result.stdout.split())
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "GOVA_PGDATA"} <= asked  # the recording works
    assert asked <= DOCUMENTED, f"not in .env.example: {sorted(asked - DOCUMENTED)}"
