"""The project's modules import one another in one direction: no import cycles, and the benchmarks import nothing
from the tests.

The graph is read from the source with `ast`, so it holds every import, those inside functions too (a lazy import
still ties two modules together: it only hides the cycle until the function runs). String imports (INSTALLED_APPS,
import_module) are not edges.
"""

import ast
from pathlib import Path

from django.conf import settings

PACKAGES = ("gova", "accounts", "moderation", "dbops", "devdb", "bench")
ROOT = Path(settings.BASE_DIR)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))}


def imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    """The dotted names an import statement can load: the module itself, and for `from x import y` also x.y (a
    submodule when one exists)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:  # relative: resolved against the importing module's package
        package = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module
    return [base] + [f"{base}.{alias.name}" for alias in node.names]


def import_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports, anywhere in its body."""
    modules = project_modules()
    graph = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for name in imported(node, module, is_package):
                    # `import a.b.c` names a.b.c; `from a.b import f` names a.b (f is no module).
                    while name and name not in modules:
                        name = name.rpartition(".")[0]
                    if name and name != module:
                        targets.add(name)
        graph[module] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_the_graph_sees_imports_inside_functions():
    graph = import_graph()
    # bench.pipeline imports moderation.services only inside its functions.
    assert "moderation.services" in graph["bench.pipeline"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_between_the_project_modules():
    found = cycles(import_graph())
    assert not found, "import cycles (each line: modules that import one another):\n" + "\n".join(
        " <-> ".join(component) for component in found
    )


def test_the_benchmarks_import_nothing_from_the_tests():
    offending = []
    for path in sorted((ROOT / "bench").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                offending += [f"{module_name(path)}: {name}" for name in names if name.split(".")[0] == "tests"]
    assert not offending, "bench imports test code: " + ", ".join(offending)
