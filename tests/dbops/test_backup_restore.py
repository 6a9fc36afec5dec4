import gzip
import hashlib
import io
import json
import tarfile
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import JSONField, Value
from django.utils import timezone

from dbops.backups import fresh_backup, read_manifest
from dbops.event_tables import EVENT_TABLES
from moderation.models import EMBEDDING_DIMENSIONS, ActionEvent, ActionStatus, EvaluationEvent
from moderation.services import evaluation_embeddings_fold
from tests.factories import ActionEventFactory, EvaluationEventFactory, ModeratorFactory, message_context

# Varied, non-round values: a vector that came back rounded or shifted would not compare equal.
EMBEDDING = [((i * 7919) % 1009) / 1009 - 0.5 for i in range(EMBEDDING_DIMENSIONS)]

# What COPY's text format has to escape: tabs, newlines, backslashes, its own NULL marker \N.
AWKWARD_TEXT = 'tab\there\nnew line, back\\slash, \\N, "quotes", naïve café — 日本語 עברית 👋🏽'


@pytest.fixture
def events():
    """Rows with every kind of value the event tables hold, NULLs included, actions in every status."""
    moderator = ModeratorFactory()
    with_vector = EvaluationEventFactory(
        moderator=moderator,
        embedding=EMBEDDING,
        severity_score=0.875,
        behaviour_score=0.3333333333333333,
        context=message_context(
            content=AWKWARD_TEXT,
            roles=[],
            reply_to={"message_id": "m-0", "content": None, "nested": [1, 2.5, None, {"deep": [True, False, {}]}]},
            **{"ŝlosilo 🔑": "ǅ", "empty": {}},
        ),
    )
    without_vector = EvaluationEventFactory(moderator=moderator, embedding=None, platform_user_id="\\N")
    EvaluationEventFactory(embedding=[-value for value in EMBEDDING])  # another moderator
    when = timezone.now() - timedelta(days=3)
    ActionEventFactory(evaluation=with_vector, status=ActionStatus.AWAITING_APPROVAL, platform_user_id=None)
    ActionEventFactory(evaluation=with_vector, status=ActionStatus.COMPLETED, executed_at=when, action_params=None)
    ActionEventFactory(
        evaluation=with_vector, status=ActionStatus.FAILED, executed_at=when, error_msg="Missing Permissions\n(50013)"
    )
    ActionEventFactory(evaluation=without_vector, status=ActionStatus.REJECTED, reason=AWKWARD_TEXT)
    # JSON null, which must stay apart from SQL NULL (the COMPLETED action's action_params).
    ActionEventFactory(evaluation=without_vector, action_params=Value(None, JSONField()), context={"k": [None]})


def snapshot(table: str) -> list:
    """Every column of every row, as Python values and as the row's text form.

    The text form tells apart what Python values cannot, such as SQL NULL and JSON null.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT t.*, t::text AS row_as_text FROM {table} t ORDER BY 1")
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def snapshot_all() -> dict:
    return {table: snapshot(table) for table in EVENT_TABLES}


def backup(tmp_path, *args):
    stdout, stderr = io.StringIO(), io.StringIO()
    call_command("backup_events", "--output-dir", str(tmp_path), *args, stdout=stdout, stderr=stderr)
    [path] = [path for path in tmp_path.glob("*.tar") if path.name in stdout.getvalue()]
    return path, stdout.getvalue(), stderr.getvalue()


def restore(path, *args):
    stdout = io.StringIO()
    call_command("restore_events", str(path), *args, stdout=stdout, stderr=io.StringIO())
    return stdout.getvalue()


def truncate_events():
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE action_events, evaluation_events")


def database_clock():
    with connection.cursor() as cursor:
        cursor.execute("SELECT clock_timestamp()")
        return cursor.fetchone()[0]


def rewrite_backup(path, change_manifest=lambda manifest: None, change_rows=lambda table, line: line):
    """Rewrite a backup in place, data members re-hashed, so only the given change is wrong with it."""
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        data = {
            table: gzip.decompress(tar.extractfile(f"{table}.copy.gz").read()).splitlines(keepends=True)
            for table in manifest["tables"]
        }
    members = {}
    for table, lines in data.items():
        members[f"{table}.copy.gz"] = gzip.compress(b"".join(change_rows(table, line) for line in lines))
        manifest["tables"][table]["sha256"] = hashlib.sha256(members[f"{table}.copy.gz"]).hexdigest()
    change_manifest(manifest)
    members = {"manifest.json": json.dumps(manifest).encode(), **members}
    with tarfile.open(path, "w") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))


def member_span(path, name) -> tuple[int, int]:
    with tarfile.open(path) as tar:
        member = tar.getmember(name)
        return member.offset_data, member.size


def flip_middle_of(name):
    def corrupt(path):
        start, size = member_span(path, name)
        content = bytearray(path.read_bytes())
        for offset in range(start + size // 2, start + size // 2 + 4):
            content[offset] ^= 0xFF
        path.write_bytes(bytes(content))

    return corrupt


def cut_in_middle_of(name):
    def corrupt(path):
        start, size = member_span(path, name)
        path.write_bytes(path.read_bytes()[: start + size // 2])

    return corrupt


@pytest.mark.django_db(transaction=True)
def test_round_trip_restores_every_column_of_every_row(events, tmp_path):
    evaluation_embeddings_fold(lag_seconds=0)  # a vector index part over the rows (moderation.vector_index)
    before = snapshot_all()
    vector_indexes = hnsw_index_definitions()
    assert vector_indexes
    assert [len(before[table]) for table in EVENT_TABLES] == [3, 5]
    assert {row["status"] for row in before["action_events"]} == set(ActionStatus.values)
    backup_path, _, _ = backup(tmp_path)
    truncate_events()
    assert snapshot_all() == {table: [] for table in EVENT_TABLES}

    restore(backup_path)

    assert snapshot_all() == before
    restored = EvaluationEvent.objects.exclude(embedding=None).get(context__content=AWKWARD_TEXT)
    assert list(restored.embedding) == pytest.approx(EMBEDDING, rel=1e-6)  # float4 precision
    # Django matches JSON null with =None and SQL NULL with __isnull: one row each, as before the backup.
    assert ActionEvent.objects.filter(action_params=None).count() == 1
    assert ActionEvent.objects.filter(action_params__isnull=True).count() == 1
    # The vector indexes were dropped for the load and rebuilt, as they were.
    assert hnsw_index_definitions() == vector_indexes


def hnsw_index_definitions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'evaluation_events' AND indexdef LIKE '%%hnsw%%'"
        )
        return {definition for (definition,) in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_backup_prints_path_row_counts_and_the_files_checksum(events, tmp_path):
    path, stdout, stderr = backup(tmp_path)

    assert str(path) in stdout
    assert "evaluation_events: 3 rows" in stdout and "action_events: 5 rows" in stdout
    assert f"SHA-256 {hashlib.sha256(path.read_bytes()).hexdigest()}" in stdout
    assert "evaluation_events: 3 rows" in stderr and "action_events: 5 rows" in stderr  # final progress lines
    manifest = read_manifest(path)
    assert manifest["tables"]["action_events"]["rows"] == 5
    with connection.cursor() as cursor:
        table = connection.introspection.get_table_description(cursor, "action_events")
    assert manifest["tables"]["action_events"]["columns"] == [column.name for column in table]  # the table's order
    assert manifest["database"] == connection.settings_dict["NAME"]


@pytest.mark.django_db(transaction=True)
def test_backup_goes_to_the_gova_backup_dir_setting_by_default(events, tmp_path, settings):
    settings.GOVA_BACKUP_DIR = tmp_path / "configured"

    call_command("backup_events", stdout=io.StringIO(), stderr=io.StringIO())

    [path] = (tmp_path / "configured").iterdir()
    assert set(read_manifest(path)["tables"]) == set(EVENT_TABLES)


@pytest.mark.django_db(transaction=True)
def test_backup_of_one_table_holds_only_that_table(events, tmp_path):
    path, stdout, _ = backup(tmp_path, "--table", "action_events")

    assert list(read_manifest(path)["tables"]) == ["action_events"]
    assert "evaluation_events" not in stdout
    with tarfile.open(path) as tar:
        assert tar.getnames() == ["manifest.json", "action_events.copy.gz"]


@pytest.mark.django_db(transaction=True)
def test_restore_with_truncate_replaces_rows_changed_since_the_backup(events, tmp_path):
    before = snapshot_all()
    path, _, _ = backup(tmp_path)
    ActionEvent.objects.filter(status=ActionStatus.REJECTED).delete()
    EvaluationEvent.objects.filter(embedding=None).update(context={"edited": True}, severity_score=1)
    ActionEventFactory(status=ActionStatus.COMPLETED)

    restore(path, "--truncate")

    assert snapshot_all() == before


@pytest.mark.django_db(transaction=True)
def test_restore_loads_columns_by_name_whatever_their_order_in_the_backup(events, tmp_path):
    before = snapshot_all()
    path, _, _ = backup(tmp_path)

    def reverse_columns(manifest):
        for entry in manifest["tables"].values():
            entry["columns"].reverse()

    def reverse_fields(table, line):
        # Text format: tabs inside values are escaped, so a raw tab always separates fields.
        return b"\t".join(reversed(line.rstrip(b"\n").split(b"\t"))) + b"\n"

    rewrite_backup(path, reverse_columns, reverse_fields)
    truncate_events()

    restore(path)

    assert snapshot_all() == before


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_tables_that_are_not_empty(events, tmp_path):
    path, _, _ = backup(tmp_path)
    ActionEvent.objects.all().delete()  # action_events empty, evaluation_events not

    with pytest.raises(CommandError, match=r"^evaluation_events not empty: nothing restored \(--truncate"):
        restore(path)

    assert ActionEvent.objects.count() == 0  # not loaded either


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (flip_middle_of("evaluation_events.copy.gz"), "evaluation_events data fails its SHA-256 check"),
        (flip_middle_of("manifest.json"), "not a readable backup"),
        (cut_in_middle_of("action_events.copy.gz"), "corrupt or truncated"),
    ],
    ids=["flipped-data", "flipped-manifest", "truncated"],
)
def test_corrupt_backup_is_refused_and_changes_nothing(events, tmp_path, corrupt, message):
    path, _, _ = backup(tmp_path)
    before = snapshot_all()
    corrupt(path)

    with pytest.raises(CommandError, match=message) as refused:
        restore(path, "--truncate")

    assert "\n" not in str(refused.value)
    assert snapshot_all() == before


@pytest.mark.django_db(transaction=True)
def test_missing_backup_file_is_refused(events, tmp_path):
    before = snapshot_all()

    with pytest.raises(CommandError, match=r"events-missing\.tar: no such backup file"):
        restore(tmp_path / "events-missing.tar", "--truncate")

    assert snapshot_all() == before


@pytest.mark.django_db(transaction=True)
def test_backup_whose_columns_differ_from_the_table_is_refused_and_changes_nothing(events, tmp_path):
    path, _, _ = backup(tmp_path)
    before = snapshot_all()

    def rename_reason(manifest):
        entry = manifest["tables"]["action_events"]
        entry["columns"] = ["why" if column == "reason" else column for column in entry["columns"]]
        entry["column_types"]["why"] = entry["column_types"].pop("reason")

    rewrite_backup(path, rename_reason)

    with pytest.raises(
        CommandError,
        match=r"action_events columns differ from the live table \(backup only: why .*; table only: reason ",
    ):
        restore(path, "--truncate")

    assert snapshot_all() == before


def applied_now() -> set[str]:
    return {f"{app}.{name}" for app, name in MigrationRecorder(connection).applied_migrations()}


@pytest.mark.django_db
def test_no_backup_is_fresh_without_a_readable_one(tmp_path):
    applied, day = applied_now(), timedelta(days=1)
    assert fresh_backup("evaluation_events", tmp_path / "never-created", applied=applied, max_age=day) is None
    (tmp_path / "events-20990101T000000.000000Z.tar").write_bytes(b"not a tar file")

    assert fresh_backup("evaluation_events", tmp_path, applied=applied, max_age=day) is None


@pytest.mark.django_db(transaction=True)
def test_the_fresh_backup_is_the_newest_of_the_current_schema_holding_the_table(events, tmp_path):
    applied, day = applied_now(), timedelta(days=1)
    first, _, _ = backup(tmp_path)
    second, _, _ = backup(tmp_path, "--table", "action_events")

    assert read_manifest(first)["migrations"] == sorted(applied)
    assert fresh_backup("evaluation_events", tmp_path, applied=applied, max_age=day) == first
    assert fresh_backup("action_events", tmp_path, applied=applied, max_age=day) == second
    flip_middle_of("manifest.json")(second)
    assert fresh_backup("action_events", tmp_path, applied=applied, max_age=day) == first


@pytest.mark.django_db(transaction=True)
def test_a_backup_of_another_schema_or_too_old_is_not_fresh(events, tmp_path):
    applied, day = applied_now(), timedelta(days=1)
    path, _, _ = backup(tmp_path)

    # Taken before the latest migration was applied: it restores onto a schema this database no longer has.
    assert fresh_backup("evaluation_events", tmp_path, applied=applied | {"moderation.9999_later"}, max_age=day) is None

    # Older than max_age by the manifest's time (the server's clock), not by a race with this process's clock.
    def taken_two_days_earlier(manifest):
        manifest["created_at"] = (datetime.fromisoformat(manifest["created_at"]) - 2 * day).isoformat()

    rewrite_backup(path, taken_two_days_earlier)
    assert fresh_backup("evaluation_events", tmp_path, applied=applied, max_age=day) is None
    assert fresh_backup("evaluation_events", tmp_path, applied=applied, max_age=3 * day) == path

    def written_by_version_1(manifest):
        manifest["format_version"] = 1
        del manifest["migrations"]

    rewrite_backup(path, written_by_version_1)
    assert read_manifest(path)["format_version"] == 1  # still readable, and restorable
    assert fresh_backup("evaluation_events", tmp_path, applied=applied, max_age=day) is None
