"""The shape of the tree: unique test module names, the chassis' one public surface, no import cycle in src/."""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import ecommerce.chassis

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"
PACKAGE = SRC / "ecommerce"
CHASSIS = "ecommerce.chassis"


def test_module_names_are_unique() -> None:
    names = Counter(path.name for path in TESTS.rglob("*.py") if path.name not in ("conftest.py", "__init__.py"))
    assert [name for name, count in names.items() if count > 1] == []


def test_everything_outside_the_chassis_imports_its_public_surface_only() -> None:
    public = set(ecommerce.chassis.__all__)
    wrong = [
        f"{path.relative_to(SRC)}:{node.lineno} {name}"
        for path in _modules_outside_the_chassis()
        for node, module, name in _imports(path)
        if module.startswith(CHASSIS + ".") or (module == CHASSIS and name not in public)
    ]
    assert wrong == []


def test_the_public_surface_is_real_and_used() -> None:
    exported = ecommerce.chassis.__all__
    assert len(exported) == len(set(exported))
    assert [name for name in exported if not hasattr(ecommerce.chassis, name)] == []
    used = {name for path in _modules_outside_the_chassis() for _, module, name in _imports(path) if module == CHASSIS}
    assert sorted(set(exported) - used) == []


def test_no_import_cycle_in_src() -> None:
    """Every import counts, also one inside a function or under TYPE_CHECKING: a cycle hidden there is one still."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: sorted(_targets(path, modules)) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": ["b"], "b": [], "c": ["a", "b"]}) == []


def _modules_outside_the_chassis() -> Iterator[Path]:
    chassis = PACKAGE / "chassis"
    return (path for path in PACKAGE.rglob("*.py") if chassis not in path.parents)


def _imports(path: Path) -> Iterator[tuple[ast.stmt, str, str]]:
    """(statement, module, name) for every name imported anywhere in the file; `import a.b` gives (a.b, "")."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                yield node, node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, ""


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _targets(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project's modules this file imports (`from a import b` names module a.b when b is one)."""
    targets = set()
    for _, module, name in _imports(path):
        if f"{module}.{name}" in modules:
            targets.add(f"{module}.{name}")
        elif module in modules:
            targets.add(module)
    targets.discard(_module_name(path))
    return targets


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """One cycle per strongly connected knot found by depth-first search, each as a closed path of names."""
    cycles: list[list[str]] = []
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for target in graph.get(node, []):
            if state.get(target) == "open":
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles
