"""The takeover with GOVA_LEGACY_FORMATS=true: the old service keeps writing through the switch and after it,
and both services read what the other writes. Then the full path: the old service retired, formats converted."""

import json
import threading
import time
from datetime import UTC, datetime

import argon2
import pytest

from tests.old_service import OTHER_KEY, OldService, unseal
from tests.takeover.legacy_service import USERS

pytestmark = pytest.mark.slow

BESIDE = {"GOVA_LEGACY_FORMATS": "true"}
RETIRED = {"GOVA_LEGACY_FORMATS": "false"}

LOG_IN = (
    "import json\n"
    "from django.contrib.auth import authenticate\n"
    "from django.test import RequestFactory\n"
    "from accounts.models import User\n"
    "out = {{}}\n"
    "for n, (login, password) in enumerate({logins}):\n"
    "    # A request, as every real login has (django-axes needs it); one address per login.\n"
    "    request = RequestFactory().post('/admin/login/', REMOTE_ADDR=f'10.0.1.{{n}}')\n"
    "    out[login] = authenticate(request, username=login, password=password) is not None\n"
    "out['payloads'] = {{u.username: u.discord_oauth_payload for u in User.objects.filter(username__in={names})}}\n"
    "print(json.dumps(out))\n"
)


def log_in_here(legacy_db, logins: list, names: list, env: dict) -> dict:
    """Django's logins (by email) and the payloads it reads, in `manage.py shell` on the legacy database."""
    return legacy_db.django(LOG_IN.format(logins=logins, names=names), **env)


class OldServiceTraffic(threading.Thread):
    """The old service signing users up and recording evaluations, without pause, until stopped."""

    def __init__(self, legacy_db):
        super().__init__(daemon=True)
        self.legacy_db, self.stop, self.done, self.errors = legacy_db, threading.Event(), [], []

    def run(self):
        with self.legacy_db.connect() as db:
            service = OldService(lambda sql, params: _rows(db.execute(sql, params)))
            [(moderator_id,)] = db.execute("SELECT moderator_id FROM moderators ORDER BY name LIMIT 1").fetchall()
            n = 0
            while not self.stop.is_set():
                try:
                    user_id = service.sign_up(f"traffic{n}", f"traffic password {n}")
                    db.execute(
                        "INSERT INTO evaluation_events (event_id, moderator_id, platform_user_id, severity_score, "
                        "behaviour_score, context, created_at) VALUES (gen_random_uuid(), %s, %s, 0.5, 0.5, %s, %s)",
                        [moderator_id, f"u{n}", json.dumps({"content": f"during {n}"}), datetime.now(UTC)],
                    )
                    self.done.append((user_id, f"traffic{n}", f"traffic password {n}"))
                except Exception as exc:  # noqa: BLE001 - every failure the old service would see is the finding
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                n += 1
                time.sleep(0.05)


def _rows(cursor):
    return cursor.fetchall() if cursor.description else []


def test_the_old_service_keeps_running_through_a_takeover_that_converts_nothing(legacy_db):
    alice, bob, carol, dave = USERS
    legacy_stored = {user.username: legacy_db.stored(user) for user in USERS}

    dry = legacy_db.manage("adopt_alembic_db", "--dry-run", **BESIDE)
    assert dry.returncode == 0, dry.stderr
    assert "passwords: 4 argon2id hashes left as the old service wrote them (GOVA_LEGACY_FORMATS=true)" in dry.stdout
    assert "LOCK TABLE action_events, evaluation_events, moderators, users IN ACCESS EXCLUSIVE MODE" in dry.stdout

    traffic = OldServiceTraffic(legacy_db)
    traffic.start()
    try:
        adopted = legacy_db.manage("adopt_alembic_db", **BESIDE)
        time.sleep(1)  # a few writes after the switch too
    finally:
        traffic.stop.set()
        traffic.join(timeout=60)
    assert adopted.returncode == 0, adopted.stderr + adopted.stdout
    assert "left in the old service's formats" in adopted.stdout
    assert traffic.errors == [] and len(traffic.done) > 0
    assert legacy_db.manage("schema_check").returncode == 0
    # Not one hash or payload converted: every stored value is the one the old service wrote.
    assert {user.username: legacy_db.stored(user) for user in USERS} == legacy_stored
    signed_up = traffic.done[:: max(1, len(traffic.done) // 3)]  # a few, so the logins stay quick
    written = legacy_db.query("SELECT count(*) FROM evaluation_events WHERE context->>'content' LIKE 'during %%'")
    assert written == [(len(traffic.done),)]

    # Old service → Django: its users (from before and during the switch) log in, its payloads read.
    seen = log_in_here(
        legacy_db,
        [(u.email, u.password) for u in (alice, bob, carol)]
        + [(f"{name}@example.com", pw) for _, name, pw in signed_up],
        ["alice", "bob", "carol"],
        BESIDE,
    )
    assert all(seen[login] for login in seen if login != "payloads"), seen
    assert seen["payloads"] == {"alice": alice.payload, "bob": bob.payload, "carol": None}
    assert {user.username: legacy_db.stored(user) for user in USERS} == legacy_stored  # logins rewrote nothing

    # Django → old service: a user, a password and a payload written here.
    legacy_db.django(
        "import json\n"
        "from accounts.models import User\n"
        "erin = User.objects.create_user(username='erin', email='erin@example.com', password='erin password 1')\n"
        "erin.discord_oauth_payload = {'access_token': 'e'}\n"
        "erin.save()\n"
        "carol = User.objects.get(username='carol')\n"
        "carol.set_password('carol new password')\n"
        "carol.save()\n"
        "print(json.dumps({}))\n",
        **BESIDE,
    )
    with legacy_db.connect() as db:
        service = OldService(lambda sql, params: _rows(db.execute(sql, params)))
        assert service.log_in("erin@example.com", "erin password 1")
        assert service.log_in("carol@example.com", "carol new password")
        [(erin_id,)] = db.execute("SELECT user_id::text FROM users WHERE username = 'erin'").fetchall()
        assert service.discord_payload(erin_id) == {"access_token": "e"}

    # Handing back beside it: revert leaves the old service's formats as they are.
    reverted = legacy_db.manage("adopt_alembic_db", "--revert", **BESIDE)
    assert reverted.returncode == 0, reverted.stderr + reverted.stdout
    assert legacy_db.stored(alice) == legacy_stored["alice"]
    assert legacy_db.query("SELECT version_num FROM alembic_version") == [("6cd8e388a6c5",)]


def test_the_full_path_converts_once_the_old_service_is_retired(legacy_db):
    alice, bob, carol, dave = USERS
    legacy_stored = {user.username: legacy_db.stored(user) for user in USERS}
    adopted = legacy_db.manage("adopt_alembic_db", **BESIDE)
    assert adopted.returncode == 0, adopted.stderr + adopted.stdout

    refused = legacy_db.manage("convert_legacy_formats", **BESIDE)
    assert refused.returncode == 1 and "GOVA_LEGACY_FORMATS=true" in refused.stderr
    assert {user.username: legacy_db.stored(user) for user in USERS} == legacy_stored

    converted = legacy_db.manage("convert_legacy_formats", "--batch-size", "2", **RETIRED)
    # dave's payload is under another key: named, left as it is, exit 1.
    assert converted.returncode == 1 and f"user_id={dave.user_id} cannot be decrypted" in converted.stderr
    assert "users.password: 4 converted to Django's format" in converted.stdout
    assert "users.discord_oauth_payload: 2 converted to Django's format" in converted.stdout
    for user in (alice, bob, carol):
        password, payload = legacy_db.stored(user)
        assert password == "argon2" + legacy_stored[user.username][0]
        assert payload is None or payload.startswith("gAAAAA")
    seen = log_in_here(legacy_db, [(u.email, u.password) for u in (alice, bob)], ["alice", "bob"], RETIRED)
    assert seen == {alice.email: True, bob.email: True, "payloads": {"alice": alice.payload, "bob": bob.payload}}
    again = legacy_db.manage("convert_legacy_formats", **RETIRED)
    assert "users.password: 0 converted" in again.stdout and "users.discord_oauth_payload: 0 converted" in again.stdout

    # And all the way back, from Django's formats.
    reverted = legacy_db.manage("adopt_alembic_db", "--revert", **RETIRED)
    assert reverted.returncode == 0, reverted.stderr + reverted.stdout
    for user in (alice, bob, dave):
        password, payload = legacy_db.stored(user)
        assert argon2.PasswordHasher().verify(password, user.password)
        assert unseal(payload, user.user_id, **({"key": OTHER_KEY} if user is dave else {})) == user.payload
