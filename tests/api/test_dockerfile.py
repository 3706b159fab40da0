"""The container image (api/Dockerfile) installs every distribution the API imports.

The image is not built here (no Docker engine), and its ``pip check`` sees only
what was installed: a package the API imports but the Dockerfile's selection
of the lock leaves out would fail only when the container starts.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_modules() -> set[str]:
    """Top-level modules the API's code imports, outside the standard library and itself."""
    found: set[str] = set()
    for path in (ROOT / "api").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"api", "__future__"}


def selected_lock_lines() -> list[str]:
    """The lines of requirements.lock the Dockerfile's ``grep -iE`` keeps."""
    dockerfile = (ROOT / "api" / "Dockerfile").read_text()
    match = re.search(r"grep -iE '([^']+)'", dockerfile)
    assert match, "api/Dockerfile no longer selects the lock with grep -iE '...'"
    pattern = re.compile(match.group(1), re.IGNORECASE)
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    return [line for line in lines if pattern.search(line)]


def test_every_distribution_the_api_imports_is_installed_in_the_image() -> None:
    distributions = packages_distributions()
    needed = {normalized(dist) for module in imported_modules() for dist in distributions[module]}
    installed = {normalized(line.split("==")[0]) for line in selected_lock_lines()}

    assert {"fastapi", "uvicorn", "prometheus-client"} <= needed
    assert needed - installed == set()
