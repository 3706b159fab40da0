"""``python -m infra.lockfile < freeze.txt > requirements.lock``: mark the lock's lines by role.

One resolution (every dependency and dependency group of pyproject.toml,
installed together and frozen) is the single source of versions. This marks
each pinned line with the roles that need it, so that ``make run`` can
install only what running needs while ``make install`` installs everything:

- ``# localbridge``, ``# api``, ``# jobs``, ``# deploy`` (one or more): what
  running needs, the closure of ``[project] dependencies`` (the installed
  package) and of the groups of the same names;
- ``# installer``: the ``install`` group (uv, which installs the rest);
- ``# dev``: everything else (tests, benchmarks, linters, type stubs).

It must run in an environment holding the frozen versions: the closures are
read from the installed packages' own metadata, markers evaluated for this
interpreter. Existing marks on the input are ignored, so the lock re-marked
in ``.venv`` (``python -m infra.lockfile < requirements.lock``) keeps every
version. ``python -m infra.lockfile requirements`` prints every direct
requirement, one a line, for ``make lock`` to resolve.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

# What running needs: the installed package's dependencies, then the groups by role.
RUNNING = ("localbridge", "api", "jobs", "deploy")
INSTALLER = "install"

HEADER = """\
# Every package, pinned: one resolution of pyproject.toml's dependencies (`make lock`).
# Each line names the roles that need it (pyproject.toml says what each role is).
# localbridge, api, jobs and deploy are what running needs (`make run`); `# installer`
# is the installer `make` bootstraps first; `# dev` lines are only for tests,
# benchmarks and linters (`make install` adds them).
"""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def roles(project: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each role's direct requirements: ``localbridge`` (the installed package's) and the groups."""
    groups: Mapping[str, list[Any]] = project.get("dependency-groups", {})

    def group(name: str) -> list[str]:
        found: list[str] = []
        for entry in groups[name]:
            found.extend(group(entry["include-group"]) if isinstance(entry, dict) else [entry])
        return found

    return {"localbridge": list(project["project"]["dependencies"])} | {
        name: group(name) for name in groups
    }


def closure(roots: Iterable[str]) -> set[str]:
    """The canonical names of ``roots`` and everything they need, transitively."""
    # Imported here: ``requirements`` runs on an interpreter that may not have it.
    from packaging.requirements import Requirement

    seen: set[str] = set()
    pending = [Requirement(root) for root in roots]
    while pending:
        requirement = pending.pop()
        name = canonical(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        for extra in ("", *requirement.extras):
            for text in metadata.requires(requirement.name) or []:
                needed = Requirement(text)
                if needed.marker is None or needed.marker.evaluate({"extra": extra}):
                    pending.append(needed)
    return seen


def pins(lines: Iterable[str]) -> list[str]:
    """The ``name==version`` lines of a freeze or of a marked lock, marks dropped."""
    found = []
    for line in lines:
        pin = line.split("#", 1)[0].strip()
        if pin:
            found.append(pin)
    return found


def mark(frozen: Iterable[str], needs: Mapping[str, set[str]], installer: set[str]) -> list[str]:
    """The frozen pins, each marked with the roles whose closure (``needs``) holds it."""
    lines = []
    for pin in pins(frozen):
        name = canonical(pin.split("==")[0])
        running = [role for role, names in needs.items() if name in names]
        if name in installer:
            lines.append(f"{pin}  # installer")
        elif running:
            lines.append(f"{pin}  # {', '.join(running)}")
        else:
            lines.append(f"{pin}  # dev")
    return lines


def lock(frozen: Iterable[str], project: Mapping[str, Any]) -> str:
    """requirements.lock's text for the frozen pins of an environment holding them."""
    by_role = roles(project)
    needs = {role: closure(by_role[role]) for role in RUNNING}
    return HEADER + "\n".join(mark(frozen, needs, closure(by_role[INSTALLER]))) + "\n"


def main(argv: list[str]) -> int:
    project = tomllib.loads(Path("pyproject.toml").read_text())
    if argv == ["requirements"]:
        every = dict.fromkeys(req for reqs in roles(project).values() for req in reqs)
        sys.stdout.write("".join(f"{requirement}\n" for requirement in every))
        return 0
    if argv:
        sys.stderr.write("usage: python -m infra.lockfile [requirements] < freeze.txt\n")
        return 2
    sys.stdout.write(lock(sys.stdin, project))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
