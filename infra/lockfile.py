"""``python -m infra.lockfile < freeze.txt > requirements.lock``: mark the lock's parts.

One resolution (every dependency of pyproject.toml, dev and installer groups
included, installed together and frozen) is the single source of versions.
This marks each line with the part that needs it, so that ``make run`` can
install only what running needs while ``make install`` installs everything:

- no mark: the closure of ``[project] dependencies`` (what running needs);
- ``# installer``: the ``install`` group (uv, which installs the rest);
- ``# dev``: everything else (tests, linters, type stubs, moto, awscli).

It must run in the environment that was frozen: the closure is read from the
installed packages' own metadata, markers evaluated for this interpreter.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

HEADER = """\
# Every package, pinned: one resolution of pyproject.toml's dependencies (`make lock`).
# Unmarked lines are what running needs (`make run`); `# installer` is the installer
# `make` bootstraps first; `# dev` lines are for tests and linters (`make install`).
"""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(roots: Iterable[str]) -> set[str]:
    """The canonical names of ``roots`` and everything they need, transitively."""
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


def mark(frozen: Iterable[str], runtime: set[str], installer: set[str]) -> list[str]:
    """The frozen ``name==version`` lines, each marked with the part that needs it."""
    lines = []
    for line in frozen:
        pin = line.strip()
        if not pin or pin.startswith("#"):
            continue
        name = canonical(pin.split("==")[0])
        if name in installer:
            lines.append(f"{pin}  # installer")
        elif name in runtime:
            lines.append(pin)
        else:
            lines.append(f"{pin}  # dev")
    return lines


def main() -> int:
    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    runtime = closure(project["dependencies"])
    installer = closure(project["optional-dependencies"]["install"])
    sys.stdout.write(HEADER + "\n".join(mark(sys.stdin, runtime, installer)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
