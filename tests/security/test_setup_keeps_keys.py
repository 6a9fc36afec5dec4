"""scripts/setup never invents keys for a database that holds data encrypted with other keys."""

import os
import shutil
import stat
import subprocess
from collections import defaultdict

import psycopg
import pytest
from django.db import connection

from accounts.fields import encrypted_fields
from accounts.models import User
from devdb.keys_guard import ENCRYPTED_COLUMNS
from devdb.server import EmbeddedPostgres
from tests.conftest import PROJECT_DIR
from tests.factories import UserFactory


@pytest.fixture
def checkout(tmp_path):
    """A checkout without .env: the real script, the venv and devdb linked in (no install runs)."""
    (tmp_path / "scripts").mkdir()
    for name in ("scripts/setup", "scripts/write_env.py", ".env.example", "requirements.txt", "requirements-dev.txt"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    for name in (".venv", "devdb"):
        (tmp_path / name).symlink_to(PROJECT_DIR / name)
    return tmp_path


def run_setup(checkout, **env):
    keys_elsewhere = {"DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_SALT_KEYS", "DATABASE_URL", "GOVA_PGDATA"}
    environment = {key: value for key, value in os.environ.items() if key not in keys_elsewhere}
    return subprocess.run(
        ["bash", str(checkout / "scripts" / "setup")], env={**environment, **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_guard_knows_every_encrypted_column():
    columns = defaultdict(list)
    for field in encrypted_fields():
        columns[field.model._meta.db_table].append(field.column)
    assert dict(columns) == ENCRYPTED_COLUMNS


@pytest.mark.django_db(transaction=True)
def test_a_database_url_with_encrypted_rows_gets_no_fresh_keys(checkout):
    settings_dict = connection.settings_dict
    url = "postgres://{USER}:{PASSWORD}@{HOST}:{PORT}/{NAME}".format(**settings_dict)
    UserFactory(discord_oauth_payload={"access_token": "t"})

    refused = run_setup(checkout, DATABASE_URL=url)
    assert refused.returncode == 1 and not (checkout / ".env").exists()
    assert "holds 1 encrypted value" in refused.stderr and "Put the old .env back" in refused.stderr
    assert settings_dict["PASSWORD"] not in refused.stderr

    # The keys in the environment instead: nothing is lost, setup goes on.
    assert run_setup(checkout, DATABASE_URL=url, DJANGO_SECRET_KEY="k", FIELD_ENCRYPTION_SALT_KEYS="s").returncode == 0
    (checkout / ".env").unlink()

    User.objects.update(discord_oauth_payload=None)
    created = run_setup(checkout, DATABASE_URL=url)
    assert created.returncode == 0, created.stderr
    assert stat.S_IMODE((checkout / ".env").stat().st_mode) == 0o600


@pytest.mark.slow
def test_an_embedded_data_folder_with_encrypted_rows_gets_no_fresh_keys(checkout, pg_folder):
    server = EmbeddedPostgres(pg_folder)
    info = server.ensure_running()
    try:
        params = {"host": info.host, "port": info.port, "user": info.user, "password": info.password}
        with psycopg.connect(**params, dbname="postgres", autocommit=True) as admin:
            admin.execute("CREATE DATABASE gova")
        with psycopg.connect(**params, dbname="gova") as gova:
            gova.execute("CREATE TABLE users (user_id int, discord_oauth_payload varchar)")
            gova.execute("INSERT INTO users VALUES (1, 'gAAAAA-a-token'), (2, NULL)")
        refused = run_setup(checkout, GOVA_PGDATA=pg_folder)
        assert refused.returncode == 1 and not (checkout / ".env").exists()
        assert f"the embedded database in {pg_folder} holds 1 encrypted value" in refused.stderr
    finally:
        server.stop()
