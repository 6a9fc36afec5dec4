"""The takeover sits on top: it imports accounts, dbops and moderation, and nothing imports it, so removing
the app once no old database is left touches no other package. dbops, the migration tooling every app's
migrations load, imports no app."""

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR

# package -> project packages it must never import, at module level or inside a function.
FORBIDDEN = {
    "dbops": {"accounts", "moderation", "takeover"},
    "gova": {"takeover"},
    "accounts": {"takeover"},
    "moderation": {"takeover"},
    "devdb": {"takeover"},
}


def imported_packages(package: str) -> dict[str, set[str]]:
    """Top-level package -> the files of `package` that import it (absolute and relative imports)."""
    found = {}
    for path in sorted((PROJECT_DIR / package).rglob("*.py")):
        module = path.relative_to(PROJECT_DIR).with_suffix("").parts
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                # A relative import resolves inside its own package, whatever its level.
                names = [".".join(module[: -node.level]) if node.level else node.module or ""]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(Path(*module)))
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_package_imports_what_sits_above_it(package):
    imports = imported_packages(package)
    crossings = {target: sorted(imports[target]) for target in sorted(FORBIDDEN[package] & imports.keys())}
    assert crossings == {}, f"{package} imports {crossings}"


def test_the_scan_sees_the_takeovers_own_imports():
    # Guards the test above against passing on a scan that finds nothing.
    assert {"accounts", "dbops"} <= imported_packages("takeover").keys()
