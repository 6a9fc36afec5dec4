"""The project's migration conventions: the project follows them, and each rule catches what it is for."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.test import override_settings

from dbops.conventions import convention_violations

SLOPPY_APP = "tests.fixture_apps.sloppyapp"


@pytest.fixture
def sloppy_app(settings):
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, SLOPPY_APP]):
        yield


def test_project_migrations_follow_the_conventions():
    assert convention_violations() == []


def test_each_broken_rule_is_named_with_its_migration(sloppy_app):
    problems = convention_violations(["sloppyapp"])

    assert len(problems) == 3, problems
    assert problems[0].startswith("sloppyapp.0002_rename_label: RenameField tag.label -> title on a live table")
    assert problems[1].startswith("sloppyapp.0003_undeclared_event_sql: RunSQL on evaluation_events")
    assert "use dbops.operations.EventTableSQL" in problems[1]
    assert problems[2] == (
        "sloppyapp.0004_backfill_with_app_code: a data migration imports app code (moderation.models): "
        "use apps.get_model in the function instead"
    )


def test_check_migrations_command_reports_a_broken_convention(settings):
    with override_settings(INSTALLED_APPS=[*settings.INSTALLED_APPS, "tests.fixture_apps.riskyapp"]):
        with pytest.raises(CommandError, match="RunPython backfill without reverse_code"):
            call_command("check_migrations", "riskyapp", stdout=io.StringIO())


def test_manage_py_check_runs_the_conventions(sloppy_app):
    with pytest.raises(SystemCheckError, match=r"dbops\.E001.*sloppyapp\.0002_rename_label"):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
