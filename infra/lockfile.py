"""``python -m infra.lockfile < freeze.txt > requirements.lock``: mark the lock's lines by role.

One resolution (every dependency and dependency group of pyproject.toml,
installed together and frozen) is the single source of versions. This marks
each pinned line with the roles that need it, so that ``make run`` can
install only what running needs, ``make deploy-local`` what deploying adds,
and ``make install`` everything:

- ``# localbridge``, ``# api``, ``# jobs`` (one or more): what running needs,
  the closure of ``[project] dependencies`` (the installed package) and of the
  groups of the same names;
- ``# deploy``: what deploying needs (the group's closure; a line may name
  running roles too);
- ``# installer``: the ``install`` group (uv, which installs the rest);
- ``# dev``: everything else (tests, benchmarks, linters, type stubs).

It must run in an environment holding the frozen versions: the closures are
read from the installed packages' own metadata, markers evaluated for this
interpreter. Existing marks on the input are ignored, so the lock re-marked
in ``.venv`` (``python -m infra.lockfile < requirements.lock``) keeps every
version. ``python -m infra.lockfile requirements`` prints every direct
requirement, one a line, for ``make lock`` to resolve; ``python -m
infra.lockfile select ROLE... < requirements.lock`` prints the pins whose
line names one of the roles, for ``make`` to install.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

# What running needs (`make run`): the installed package's dependencies, then the groups.
RUNNING = ("localbridge", "api", "jobs")
# What deploying adds (`make deploy-local`, `make deploy`).
DEPLOYING = ("deploy",)
MARKED = RUNNING + DEPLOYING
INSTALLER = "install"

HEADER = """\
# Every package, pinned: one resolution of pyproject.toml's dependencies (`make lock`).
# Each line names the roles that need it (pyproject.toml says what each role is).
# localbridge, api and jobs are what running needs (`make run`); deploy is what
# deploying adds (`make deploy-local`, `make deploy`); `# installer` is the installer
# `make` bootstraps first; `# dev` lines are only for tests, benchmarks and linters
# (`make install` adds them).
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


def select(lock_lines: Iterable[str], wanted: Iterable[str]) -> list[str]:
    """The pins of a marked lock whose line names one of the ``wanted`` roles."""
    roles_wanted = set(wanted)
    found = []
    for line in lock_lines:
        pin, _, marks = line.partition("#")
        if pin.strip() and roles_wanted & {role.strip() for role in marks.split(",")}:
            found.append(pin.strip())
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
    needs = {role: closure(by_role[role]) for role in MARKED}
    return HEADER + "\n".join(mark(frozen, needs, closure(by_role[INSTALLER]))) + "\n"


def main(argv: list[str]) -> int:
    project = tomllib.loads(Path("pyproject.toml").read_text())
    if argv == ["requirements"]:
        every = dict.fromkeys(req for reqs in roles(project).values() for req in reqs)
        sys.stdout.write("".join(f"{requirement}\n" for requirement in every))
        return 0
    if argv[:1] == ["select"] and set(argv[1:]) <= {*MARKED, "installer", "dev"} and argv[1:]:
        sys.stdout.write("".join(f"{pin}\n" for pin in select(sys.stdin, argv[1:])))
        return 0
    if argv:
        sys.stderr.write(
            "usage: python -m infra.lockfile [requirements | select ROLE...] < FILE"
            f" (roles: {', '.join(MARKED)}, installer, dev)\n"
        )
        return 2
    sys.stdout.write(lock(sys.stdin, project))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
