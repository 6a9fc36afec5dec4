"""No Docker engine here: the compose file and Dockerfile are checked as the contract they are."""

import json
import os
import re
import subprocess
import sys

import pytest
import yaml
from django.conf import settings

PROJECT_DIR = settings.BASE_DIR
COMPOSE_TEXT = (PROJECT_DIR / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
DOCKERFILE = (PROJECT_DIR / "Dockerfile").read_text()
API = COMPOSE["services"]["api"]
DOCUMENTED = {
    line.split("=", 1)[0]
    for line in (PROJECT_DIR / ".env.example").read_text().splitlines()
    if "=" in line and not line.startswith("#")
}


def dockerfile_instruction(name: str) -> str:
    """The (last) instruction's arguments, continuation lines joined."""
    joined = DOCKERFILE.replace("\\\n", " ")
    return re.findall(rf"^{name} (.+)$", joined, re.MULTILINE)[-1]


def test_db_service_is_postgres_18_with_pgvector_a_healthcheck_and_a_named_volume():
    db = COMPOSE["services"]["db"]
    assert db["image"].startswith("pgvector/pgvector:pg18")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume_name = db["volumes"][0].split(":")[0]
    assert volume_name in COMPOSE["volumes"]


def test_api_service_builds_the_dockerfile_waits_for_a_healthy_db_and_serves_with_gunicorn():
    assert API["build"] == "."
    assert API["depends_on"]["db"]["condition"] == "service_healthy"
    command = API.get("command") or json.loads(dockerfile_instruction("CMD"))[-1]
    assert "gunicorn gova.wsgi:application" in command
    assert "manage.py migrate" in command


def test_every_variable_compose_interpolates_is_documented_in_env_example():
    variables = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE_TEXT))
    assert variables, "compose interpolates nothing: the check would be empty"
    assert variables <= DOCUMENTED, variables - DOCUMENTED


def test_the_api_gets_every_setting_from_the_same_env_file_the_db_password_comes_from():
    assert API["env_file"] in (".env", [".env"])
    assert set(API["environment"]) <= DOCUMENTED
    # The secrets come from .env through env_file, never written into the compose file.
    assert "DJANGO_SECRET_KEY" not in API["environment"] and "FIELD_ENCRYPTION_SALT_KEYS" not in API["environment"]
    assert COMPOSE["services"]["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")


def test_the_database_password_is_never_spliced_into_the_url():
    url = API["environment"]["DATABASE_URL"]
    assert url == "postgres://gova@db:5432/gova"
    assert API["environment"]["DATABASE_PASSWORD"].startswith("${POSTGRES_PASSWORD")


def test_the_app_is_published_on_loopback_by_default():
    [published] = API["ports"]
    assert published.startswith("${GOVA_BIND:-127.0.0.1}:") and published.endswith(":8000"), published


def test_backups_go_to_a_volume_the_unprivileged_user_owns():
    backup_dir = API["environment"]["GOVA_BACKUP_DIR"]
    assert f"backups:{backup_dir}" in API["volumes"] and "backups" in COMPOSE["volumes"]
    # A new named volume takes the ownership of the image's folder: the image must give it to the app user.
    assert f"ENV GOVA_BACKUP_DIR={backup_dir}" in DOCKERFILE
    assert re.search(rf"mkdir -p {backup_dir} && chown gova:gova {backup_dir}", DOCKERFILE)
    assert dockerfile_instruction("USER") == "gova"


def test_the_api_has_a_healthcheck_that_needs_no_curl():
    image_check = json.loads(dockerfile_instruction("HEALTHCHECK").split(" CMD ", 1)[1])
    for test in (API["healthcheck"]["test"][1:], image_check):
        assert test[:2] == ["python", "-c"] and "/healthz" in test[2]


def test_the_image_installs_runtime_packages_only():
    assert "pip install --no-cache-dir -r requirements.txt" in DOCKERFILE
    assert "-r requirements-dev" not in DOCKERFILE
    runtime = (PROJECT_DIR / "requirements.txt").read_text()
    for development_only in ("pgserver", "pytest", "ruff", "factory-boy"):
        assert development_only not in runtime
    assert "collectstatic --noinput" in DOCKERFILE
    # The image serves its collected static files itself.
    assert "whitenoise.middleware.WhiteNoiseMiddleware" in settings.MIDDLEWARE


@pytest.mark.slow  # a Python process
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


@pytest.mark.slow  # a Python process
def test_the_app_runs_without_the_embedded_server_package_installed(tmp_path):
    """The image has no pgserver: with DATABASE_URL set, nothing of devdb may import it."""
    script = (
        "import sys; sys.modules['pgserver'] = None\n"  # an import of it now fails, as in the image
        "import django; django.setup()\n"
        "from django.core.management import call_command; call_command('check')\n"
        "from gova.wsgi import application\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://gova@db.invalid:5432/gova",
        "DJANGO_SETTINGS_MODULE": "gova.settings",
    }
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_DIR, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.slow  # a Python process
def test_setup_generates_every_secret_compose_needs(tmp_path):
    (tmp_path / ".env.example").write_text((PROJECT_DIR / ".env.example").read_text())
    subprocess.run([sys.executable, str(PROJECT_DIR / "scripts" / "write_env.py"), str(tmp_path)], check=True,
                   capture_output=True)  # fmt: skip
    env = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines() if "=" in line)
    for key in ("DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_SALT_KEYS", "POSTGRES_PASSWORD"):
        assert len(env[key]) >= 16 and re.fullmatch(r"[A-Za-z0-9_-]+", env[key]), key
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600

    # An .env written before POSTGRES_PASSWORD existed gets it; values already there stay.
    (tmp_path / ".env").write_text(f"DJANGO_SECRET_KEY={env['DJANGO_SECRET_KEY']}\nFIELD_ENCRYPTION_SALT_KEYS=x\n")
    subprocess.run([sys.executable, str(PROJECT_DIR / "scripts" / "write_env.py"), str(tmp_path)], check=True,
                   capture_output=True)  # fmt: skip
    updated = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines() if "=" in line)
    assert updated["DJANGO_SECRET_KEY"] == env["DJANGO_SECRET_KEY"] and updated["FIELD_ENCRYPTION_SALT_KEYS"] == "x"
    assert len(updated["POSTGRES_PASSWORD"]) >= 16


def size_in_bytes(text: str) -> int:
    """'2gb', '1GB', '512MB' (Docker's and PostgreSQL's units, powers of 1024) in bytes."""
    number, unit = re.fullmatch(r"(\d+)\s*([kmg]?)b?", text.strip().lower()).groups()
    return int(number) * 1024 ** " kmg".index(unit or " ")


def compose_default(value: str) -> str:
    """The default of a `${NAME:-default}` interpolation."""
    return re.fullmatch(r"\$\{[A-Z_]+:-([^}]+)\}", value).group(1)


def test_the_db_service_has_room_for_a_parallel_index_build_and_its_graphs():
    db = COMPOSE["services"]["db"]
    # A parallel HNSW build puts maintenance_work_mem in /dev/shm (Docker's default: 64 MB), with headroom.
    shm = size_in_bytes(compose_default(db["shm_size"]))
    assert shm >= 1.5 * size_in_bytes(settings.GOVA_MIGRATION_MAINTENANCE_WORK_MEM)
    # shared_buffers above the image's 128MB, set on the command line the image's entrypoint passes on.
    command = db["command"]
    assert command[0] == "postgres"
    [shared_buffers] = [argument.split("=", 1)[1] for argument in command if argument.startswith("shared_buffers=")]
    assert size_in_bytes(compose_default(shared_buffers)) >= 1024**3
    documented = dict(line.split("=", 1) for line in (PROJECT_DIR / ".env.example").read_text().splitlines()
                      if line.startswith("GOVA_DB_S"))  # fmt: skip
    assert documented == {"GOVA_DB_SHM_SIZE": compose_default(db["shm_size"]), "GOVA_DB_SHARED_BUFFERS": "1GB"}
