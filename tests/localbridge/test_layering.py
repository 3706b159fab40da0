"""localbridge's imports point one way: no package imports a higher one, no module
imports itself back through others.

The layers, lowest first, as ``localbridge/__init__.py`` draws them: the
shared vocabulary (top-level modules), ``schedules``, ``project``,
``invokers``, ``ledger``, ``runtime``, ``lambda_api``, ``console``, ``cli``, and the entry
points (``localbridge`` itself and ``__main__``). Within a layer, modules form
an acyclic graph too, and so do those of ``api`` and ``infra``: a cycle hidden
by an import deferred into a function is still a cycle. Every import counts,
those under ``TYPE_CHECKING`` and those inside functions too: the source is
parsed, nothing is imported.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tests.support import ROOT

PACKAGE = ROOT / "localbridge"
LAYERS = (
    "vocabulary",
    "schedules",
    "project",
    "invokers",
    "ledger",
    "runtime",
    "lambda_api",
    "console",
    "cli",
    "entry",
)
# schedules is pure computation: of the vocabulary it takes only the instant policy.
SCHEDULES_MAY_IMPORT = {"localbridge.instants"}

Edge = tuple[str, str]
"""(importing module, imported module), both dotted names under ``localbridge``."""


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (ROOT / relative).with_suffix(".py").is_file() or (ROOT / relative).is_dir()


def imported(node: ast.AST, importer: str, is_package: bool) -> Iterator[str]:
    """The localbridge modules one import statement names."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            package = importer if is_package else importer.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        for alias in node.names:
            # ``from localbridge import launch`` names a module; ``import Schedule`` does not.
            candidate = f"{base}.{alias.name}"
            yield candidate if is_module(candidate) else base


def edges(package: str = "localbridge") -> list[Edge]:
    """Every import from a module of ``package`` to a module of ``package``."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        importer = module_name(path)
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            for name in imported(node, importer, path.name == "__init__.py"):
                if name == package or name.startswith(package + "."):
                    found.append((importer, name))
    return found


def cycles(found: Iterable[Edge]) -> list[list[str]]:
    """One cycle, modules in import order, for each group of modules that import
    each other (a strongly connected component of more than one module).

    Each cycle starts at its group's first module by name and is a shortest
    one through it, so the message is stable and as short as the problem;
    the cycles come in the order of their first modules.
    """
    graph: dict[str, set[str]] = {}
    for importer, target in found:
        if importer != target:
            graph.setdefault(importer, set()).add(target)
            graph.setdefault(target, set())
    groups = sorted(min(group) for group in components(graph) if len(group) > 1)
    return [shortest_cycle(graph, first) for first in groups]


def components(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of ``graph`` (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    found.append(pop_component(stack, on_stack, node))
            elif target not in index:
                index[target] = low[target] = len(index)
                stack.append(target)
                on_stack.add(target)
                work.append((target, iter(sorted(graph[target]))))
            elif target in on_stack:
                low[node] = min(low[node], index[target])
    return found


def pop_component(stack: list[str], on_stack: set[str], root: str) -> set[str]:
    """The modules above ``root`` on Tarjan's stack, ``root`` included, taken off it."""
    group = set()
    while root not in group:
        member = stack.pop()
        on_stack.discard(member)
        group.add(member)
    return group


def shortest_cycle(graph: dict[str, set[str]], start: str) -> list[str]:
    """The modules of a shortest import path from ``start`` back to it, ``start`` first."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node]):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return path[::-1]
            if target not in came_from:
                came_from[target] = node
                queue.append(target)
    raise AssertionError(f"{start} is on no cycle")


def describe(cycle: list[str]) -> str:
    return " -> ".join([*cycle, cycle[0]])


def layer(module: str) -> str:
    parts = module.split(".")
    if module == "localbridge" or parts[1:] == ["__main__"]:
        return "entry"
    return parts[1] if parts[1] in LAYERS else "vocabulary"


def violations(found: list[Edge]) -> list[str]:
    problems = []
    for importer, target in found:
        if target == importer or target.startswith(importer + "."):
            continue  # a package importing its own modules
        low, high = layer(importer), layer(target)
        if LAYERS.index(high) > LAYERS.index(low):
            problems.append(f"{importer} ({low}) imports {target} ({high}), a higher layer")
        elif target == "localbridge" and low != "entry":
            problems.append(f"{importer} imports the package root; import the module instead")
        elif low == "schedules" and high == "vocabulary" and target not in SCHEDULES_MAY_IMPORT:
            problems.append(f"{importer} imports {target}: schedules takes only the instants")
    return problems


def test_no_module_imports_a_higher_layer() -> None:
    found = edges()
    # The walk really sees the package's imports (a broken walk would pass vacuously).
    assert ("localbridge.runtime.loop", "localbridge.ledger") in found
    assert ("localbridge.schedules.expressions", "localbridge.instants") in found
    assert violations(found) == []


def test_the_check_catches_an_upward_import() -> None:
    upward = [
        ("localbridge.project.loading", "localbridge.runtime.loop"),
        ("localbridge.ticks", "localbridge.schedules"),
        ("localbridge.runtime.loop", "localbridge"),
        ("localbridge.schedules.parse", "localbridge.model"),
        ("localbridge.runtime.dispatch", "localbridge.ledger.store"),
    ]
    assert len(violations(upward)) == 4


def test_every_package_is_in_a_layer() -> None:
    packages = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    assert packages <= set(LAYERS)
    assert packages >= {"schedules", "project", "invokers", "ledger", "runtime", "lambda_api"}


@pytest.mark.parametrize("package", ["localbridge", "api", "infra"])
def test_no_import_cycle_between_modules(package: str) -> None:
    found = edges(package)
    # The walk sees imports inside functions too (a broken walk would pass vacuously).
    assert len(found) > 10
    assert [describe(cycle) for cycle in cycles(found)] == []


def test_the_cycle_finder_names_a_cycle_in_order() -> None:
    """The cycle project/ once had, hidden by imports deferred into functions."""
    found = [
        ("localbridge.project.discovery", "localbridge.project.pending"),
        ("localbridge.project.pending", "localbridge.project.discovery"),  # deferred
        ("localbridge.project.pending", "localbridge.project.loading"),  # deferred
        ("localbridge.project.pending", "localbridge.project.config"),
        ("localbridge.project.loading", "localbridge.project.discovery"),
        ("localbridge.project.loading", "localbridge.project.pending"),
        ("localbridge.project.loading", "localbridge.project.config"),
    ]
    assert [describe(cycle) for cycle in cycles(found)] == [
        "localbridge.project.discovery -> localbridge.project.pending"
        " -> localbridge.project.discovery"
    ]
    longer = [("pending", "loading"), ("loading", "discovery"), ("discovery", "pending")]
    assert [describe(cycle) for cycle in cycles(longer)] == [
        "discovery -> pending -> loading -> discovery"
    ]


def test_the_cycle_finder_names_each_cycle_and_ignores_a_diamond() -> None:
    diamond = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]  # two paths, no cycle
    assert cycles(diamond) == []
    found = [
        *diamond,
        ("x", "y"),
        ("y", "z"),
        ("z", "x"),
        ("z", "a"),  # leads out of the cycle, not back
        ("q", "p"),
        ("p", "q"),
        ("q", "q"),  # a module naming itself is not a cycle between modules
    ]
    assert [describe(cycle) for cycle in cycles(found)] == ["p -> q -> p", "x -> y -> z -> x"]
