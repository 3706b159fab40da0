"""localbridge's imports point one way: no package imports a higher one.

The layers, lowest first, as ``localbridge/__init__.py`` draws them: the
shared vocabulary (top-level modules), ``schedules``, ``project``,
``invokers``, ``ledger``, ``runtime``, ``lambda_api``, ``console``, ``cli``, and the entry
points (``localbridge`` itself and ``__main__``). Every import counts, those
under ``TYPE_CHECKING`` and those inside functions too: the source is parsed,
nothing is imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

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


def edges() -> list[Edge]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = module_name(path)
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            for name in imported(node, importer, path.name == "__init__.py"):
                if name == "localbridge" or name.startswith("localbridge."):
                    found.append((importer, name))
    return found


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
