"""`adopt_alembic_db` on a database the old Alembic service built and filled, run as an operator would:
`manage.py` in a subprocess with DATABASE_URL pointing at it."""

import argon2
import pytest

from tests.old_service import OTHER_KEY, unseal
from tests.takeover.legacy_service import USERS

pytestmark = pytest.mark.slow


def test_plain_migrate_refuses_a_legacy_database_and_changes_nothing(legacy_db):
    before = legacy_db.catalog()
    result = legacy_db.manage("migrate", "--noinput")
    assert result.returncode == 1
    [message] = result.stderr.strip().splitlines()
    assert "python manage.py adopt_alembic_db" in message
    assert legacy_db.catalog() == before
    assert legacy_db.query("SELECT to_regclass('django_migrations')") == [(None,)]


def test_adopt_check_log_in_and_revert(legacy_db):
    alice, bob, carol, dave = USERS
    checksums = legacy_db.checksums()
    legacy_catalog = legacy_db.catalog()
    legacy_stored = {user.username: legacy_db.stored(user) for user in USERS}

    # A dry run prints the whole plan and changes nothing.
    dry = legacy_db.manage("adopt_alembic_db", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert 'ALTER INDEX "ix_action_events_action_type" RENAME TO "action_type_idx"' in dry.stdout
    assert 'ADD CONSTRAINT "evaluation_severity_range" CHECK' in dry.stdout
    assert "OAuth payloads: 1 encrypted, 1 plaintext re-encrypted" in dry.stdout
    assert f"{dave.user_id}: GOVA_LEGACY_ENCRYPTION_KEY does not open it" in dry.stdout
    assert "accounts.0001_initial" in dry.stdout
    assert "Dry run: nothing was changed." in dry.stdout
    assert legacy_db.catalog() == legacy_catalog
    assert {user.username: legacy_db.stored(user) for user in USERS} == legacy_stored

    adopted = legacy_db.manage("adopt_alembic_db")
    assert adopted.returncode == 0, adopted.stderr + adopted.stdout
    assert f"{dave.user_id}: GOVA_LEGACY_ENCRYPTION_KEY does not open it" in adopted.stdout
    check = legacy_db.manage("schema_check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert legacy_db.manage("migrate", "--check").returncode == 0
    assert legacy_db.query("SELECT to_regclass('alembic_version')") == [(None,)]
    # Same rows, same ids, timestamps and values, apart from the converted columns.
    assert legacy_db.checksums() == checksums
    # The payload nothing opens is kept as it was.
    assert legacy_db.stored(dave)[1] == legacy_stored["dave"][1]

    seen = legacy_db.django(
        "import json\n"
        "from django.contrib.auth import authenticate\n"
        "from django.test import RequestFactory\n"
        "from accounts.models import User\n"
        f"users = {[(u.username, u.email, u.password) for u in USERS]}\n"
        "out = {}\n"
        "for n, (username, email, password) in enumerate(users):\n"
        "    # A request, as every real login has (django-axes needs it); one address per user.\n"
        "    request = RequestFactory().post('/admin/login/', REMOTE_ADDR=f'10.0.0.{n}')\n"
        "    by_email = authenticate(request, username=email, password=password)\n"
        "    by_name = authenticate(request, username=username, password=password)\n"
        "    out[username] = [by_email and by_email.username, by_name and by_name.username,\n"
        "                     authenticate(request, username=email, password='wrong') is None]\n"
        "named = User.objects.filter(username__in=['alice', 'bob', 'carol'])\n"
        "out['payloads'] = {u.username: u.discord_oauth_payload for u in named}\n"
        "print(json.dumps(out))\n"
    )
    for user in USERS:
        assert seen[user.username] == [user.username, user.username, True]
    assert seen["payloads"] == {"alice": alice.payload, "bob": bob.payload, "carol": None}
    # Logging in did not rehash: the hash is still the old service's, behind Django's prefix.
    assert legacy_db.stored(alice)[0] == "argon2" + legacy_stored["alice"][0]

    again = legacy_db.manage("adopt_alembic_db")
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout

    # Written after the switch: a new user and event, and a changed password.
    legacy_db.django(
        "import json\n"
        "from accounts.models import User\n"
        "from moderation.models import EvaluationEvent, Moderator\n"
        "erin = User.objects.create_user(username='erin', email='erin@example.com', password='erin password 1')\n"
        "erin.discord_oauth_payload = {'access_token': 'e'}\n"
        "erin.save()\n"
        "carol = User.objects.get(username='carol')\n"
        "carol.set_password('carol new password')\n"
        "carol.save()\n"
        "EvaluationEvent.objects.create(moderator=Moderator.objects.first(), platform_user_id='u9',\n"
        "    severity_score=0.5, context={'content': 'after'})\n"
        "print(json.dumps({}))\n"
    )
    after_switch = legacy_db.checksums()

    reverted = legacy_db.manage("adopt_alembic_db", "--revert")
    assert reverted.returncode == 0, reverted.stderr + reverted.stdout
    assert legacy_db.query("SELECT version_num FROM alembic_version") == [("6cd8e388a6c5",)]
    assert legacy_db.checksums() == after_switch
    # The legacy names, columns and defaults are back (the stored values are compared above and below).
    assert legacy_db.catalog() == legacy_catalog
    # What the old service reads: PHC hashes argon2-cffi verifies, AES-GCM payloads with its key.
    for user in (alice, bob, dave):
        password, payload = legacy_db.stored(user)
        assert argon2.PasswordHasher().verify(password, user.password)
        assert unseal(payload, user.user_id, **({"key": OTHER_KEY} if user is dave else {})) == user.payload
    [(carol_hash, erin_hash, erin_payload, erin_id)] = legacy_db.query(
        "SELECT c.password, e.password, e.discord_oauth_payload, e.user_id::text FROM users c, users e "
        "WHERE c.username = 'carol' AND e.username = 'erin'"
    )
    assert argon2.PasswordHasher().verify(carol_hash, "carol new password")
    assert argon2.PasswordHasher().verify(erin_hash, "erin password 1")
    assert unseal(erin_payload, erin_id) == {"access_token": "e"}
    # And the way forward again.
    readopted = legacy_db.manage("adopt_alembic_db")
    assert readopted.returncode == 0, readopted.stderr + readopted.stdout
    assert legacy_db.manage("schema_check").returncode == 0


def test_rows_breaking_our_constraints_are_listed_and_nothing_changes(legacy_db):
    with legacy_db.connect() as db:
        [(event_id,)] = db.execute(
            "UPDATE evaluation_events SET severity_score = 1.7 WHERE event_id = "
            "(SELECT event_id FROM evaluation_events ORDER BY event_id LIMIT 1) RETURNING event_id::text"
        ).fetchall()
        db.execute("UPDATE moderators SET status = 'paused' WHERE name = 'mod 0'")
    before = legacy_db.catalog()
    result = legacy_db.manage("adopt_alembic_db")
    assert result.returncode == 1
    assert "nothing was changed" in result.stderr
    assert f"evaluation_events  evaluation_severity_range  1  {event_id}" in result.stderr
    assert "moderators  moderator_status_valid  1" in result.stderr
    assert "\\copy (SELECT * FROM evaluation_events t WHERE NOT" in result.stderr
    assert legacy_db.catalog() == before


def test_payloads_without_the_legacy_key_are_refused(legacy_db):
    before = legacy_db.catalog()
    result = legacy_db.manage("adopt_alembic_db", key=None)
    assert result.returncode == 1
    assert "GOVA_LEGACY_ENCRYPTION_KEY is not set" in result.stderr
    assert legacy_db.catalog() == before


def test_a_schema_other_than_the_alembic_head_is_reported(legacy_db):
    with legacy_db.connect() as db:
        db.execute("ALTER TABLE users ADD COLUMN nickname varchar")
        db.execute("ALTER TABLE moderators ALTER COLUMN name TYPE text")
    result = legacy_db.manage("adopt_alembic_db")
    assert result.returncode == 1
    assert "+ column users.nickname: not in the old service's schema" in result.stderr
    assert "~ column moderators.name: type text (expected character varying)" in result.stderr


def test_a_table_lock_held_by_traffic_stops_adoption_within_lock_timeout_and_changes_nothing(legacy_db):
    before = legacy_db.catalog()
    passwords = legacy_db.query("SELECT password FROM users ORDER BY user_id")
    with legacy_db.connect() as reader:
        # An open transaction of the old service that has read the table: ALTER TABLE must wait for it.
        reader.autocommit = False
        reader.execute("SELECT count(*) FROM evaluation_events").fetchall()
        result = legacy_db.manage("adopt_alembic_db", GOVA_MIGRATION_LOCK_TIMEOUT="300ms")
        reader.rollback()
    assert result.returncode == 1
    assert "lock_timeout (300ms)" in result.stderr and "nothing was changed" in result.stderr
    assert legacy_db.catalog() == before
    assert legacy_db.query("SELECT password FROM users ORDER BY user_id") == passwords


@pytest.mark.parametrize(
    "earlier_attempt",
    [
        pytest.param("migrate", id="plain migrate that failed at accounts.0001"),
        pytest.param("migrate --fake-initial", id="migrate --fake-initial"),
    ],
)
def test_a_database_an_unguarded_migrate_already_touched_is_adopted(legacy_db, earlier_attempt):
    """What the issue found operators doing before this command existed, replayed without the guard."""
    checksums = legacy_db.checksums()
    legacy_db.django(
        "import json\n"
        "from django.apps import apps\n"
        "from django.core.management import call_command\n"
        "from django.db.models.signals import pre_migrate\n"
        "pre_migrate.disconnect(\n"
        "    sender=apps.get_app_config('takeover'), dispatch_uid='takeover_refuse_legacy_database'\n"
        ")\n"
        "pre_migrate.disconnect(sender=apps.get_app_config('dbops'), dispatch_uid='dbops_refuse_unsafe_migrate')\n"
        "try:\n"
        f"    call_command('migrate', fake_initial={earlier_attempt.endswith('initial')}, verbosity=0)\n"
        "except Exception as exc:\n"
        # Plain migrate stops at accounts.0001 (users exists); --fake-initial at the first later migration
        # that reads a column the old schema lacks (evaluation_events.embedding).
        "    assert 'already exists' in str(exc) or 'does not exist' in str(exc), exc\n"
        "print(json.dumps({}))\n"
    )
    assert legacy_db.query("SELECT count(*) > 0 FROM django_migrations") == [(True,)]
    adopted = legacy_db.manage("adopt_alembic_db")
    assert adopted.returncode == 0, adopted.stderr + adopted.stdout
    check = legacy_db.manage("schema_check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert legacy_db.checksums() == checksums
    logged_in = legacy_db.django(
        "import json\n"
        "from django.contrib.auth import authenticate\n"
        "from django.test import RequestFactory\n"
        "request = RequestFactory().post('/admin/login/')\n"
        f"print(json.dumps(authenticate(request, username='{USERS[0].email}', password='{USERS[0].password}') "
        "is not None))\n"
    )
    assert logged_in is True
