"""Database functions and triggers kept as versioned SQL files: `<app>/sql/<object>/v<N>.sql`.

One directory per function or trigger, named as the object; one file per version, holding the statement that
creates it (the first version) or replaces it (CREATE OR REPLACE, the later ones), comments included. Migrations
run a named version (`dbops.operations.RunSQLVersions`) instead of embedding the body. A version file is history
as a migration is: once a migration on main runs it, it is never edited; a change is the next version and a
migration that runs it. The highest version is the object's current definition: `check_migrations` reports one
that no migration runs, and `schema_check` names the version each live function runs.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps

SQL_DIRECTORY = "sql"
VERSION_FILE = re.compile(r"v([1-9][0-9]*)\.sql")
# What a version file creates: one function or one trigger, named as its directory.
CREATES = re.compile(r"^CREATE (?:OR REPLACE )?(FUNCTION|TRIGGER) (\w+)\b", re.MULTILINE)
FIRST_FUNCTION = re.compile(r"^CREATE FUNCTION ", re.MULTILINE)
# A function's body as PostgreSQL keeps it (pg_proc.prosrc): the text between the dollar quotes after AS.
BODY = re.compile(r"\bAS\s+(\$\w*\$)(.*?)\1", re.DOTALL)


@dataclass(frozen=True)
class SQLVersion:
    app_label: str
    name: str
    version: int
    path: Path

    @property
    def label(self) -> str:
        """The file as a reader finds it in the project: moderation/sql/evaluation_event_insert/v3.sql."""
        return f"{self.app_label}/{SQL_DIRECTORY}/{self.name}/v{self.version}.sql"

    def read(self) -> str:
        """The statement, checked to create the object its directory names (and nothing else)."""
        text = self.path.read_text()
        created = CREATES.findall(text)
        if [name for _, name in created] != [self.name]:
            found = ", ".join(f"{kind} {name}" for kind, name in created) or "nothing"
            raise ValueError(f"{self.label} must create the {self.name} it is filed under, and only it (found {found})")
        return text

    def kind(self) -> str:
        return CREATES.search(self.read()).group(1).lower()

    def body(self) -> str | None:
        """A function's body, as pg_proc.prosrc holds it once this version is loaded; None for a trigger."""
        text = self.read()
        if CREATES.search(text).group(1) != "FUNCTION":
            return None
        return BODY.search(text).group(2)

    def replacing(self) -> str:
        """The statement that puts this version of a function back in place of a later one."""
        text = self.read()
        if self.kind() != "function":
            raise ValueError(f"{self.label}: a trigger is dropped and created, never replaced by an earlier version")
        return FIRST_FUNCTION.sub("CREATE OR REPLACE FUNCTION ", text)


def sql_root(app_label: str) -> Path:
    return Path(apps.get_app_config(app_label).path) / SQL_DIRECTORY


def version(app_label: str, name: str, number: int) -> SQLVersion:
    found = SQLVersion(app_label, name, number, sql_root(app_label) / name / f"v{number}.sql")
    if not found.path.is_file():
        raise FileNotFoundError(f"{found.label} does not exist")
    return found


def versions(app_label: str) -> dict[str, list[SQLVersion]]:
    """Every object of the app with its version files, oldest first."""
    root = sql_root(app_label)
    found = {}
    if root.is_dir():
        for directory in sorted(path for path in root.iterdir() if path.is_dir()):
            files = [(VERSION_FILE.fullmatch(path.name), path) for path in directory.iterdir() if path.suffix == ".sql"]
            found[directory.name] = sorted(
                (SQLVersion(app_label, directory.name, int(match.group(1)), path) for match, path in files if match),
                key=lambda v: v.version,
            )
    return found


def layout_problems(app_label: str) -> list[str]:
    """Files that do not follow the layout: numbered from v1 without gaps, each creating its directory's object."""
    problems = []
    root = sql_root(app_label)
    for name, found in versions(app_label).items():
        strays = sorted(path.name for path in (root / name).iterdir() if not VERSION_FILE.fullmatch(path.name))
        if strays:
            problems.append(f"{app_label}/{SQL_DIRECTORY}/{name}: not a version file (v<N>.sql): {', '.join(strays)}")
        numbers = [v.version for v in found]
        if not numbers:
            problems.append(f"{app_label}/{SQL_DIRECTORY}/{name}: no version file (v1.sql)")
        elif numbers != list(range(1, len(numbers) + 1)):
            problems.append(f"{app_label}/{SQL_DIRECTORY}/{name}: versions {numbers}, expected v1 to v{len(numbers)}")
        for sql_version in found:
            try:
                sql_version.read()
            except ValueError as exc:
                problems.append(str(exc))
    return problems


def function_versions(app_labels) -> dict[str, list[SQLVersion]]:
    """Versioned functions by name, across `app_labels`."""
    found = {}
    for app_label in app_labels:
        for name, files in versions(app_label).items():
            if files and files[-1].kind() == "function":
                found[name] = files
    return found


def version_of(files: list[SQLVersion], body: str) -> str:
    """Which version file a function's body (pg_proc.prosrc) comes from."""
    for sql_version in reversed(files):
        if sql_version.body() == body:
            return sql_version.label
    return f"a body from no file of {files[-1].app_label}/{SQL_DIRECTORY}/{files[-1].name}/"
