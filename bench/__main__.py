"""Run benchmarks: ``python -m bench`` runs all, ``python -m bench NAME [ARGS]`` one."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    """Names of the benchmark modules beside this file (private ones excluded)."""
    here = str(Path(__file__).parent)
    return sorted(m.name for m in pkgutil.iter_modules([here]) if not m.name.startswith("_"))


def run(name: str, argv: list[str]) -> int:
    module = importlib.import_module(f"bench.{name}")
    code: int = module.main(argv)
    return code


def main(argv: list[str]) -> int:
    names = available()
    if argv and argv[0] not in names:
        print(f"unknown benchmark {argv[0]!r}; choose one of: {', '.join(names)}", file=sys.stderr)
        return 2
    if argv:
        return run(argv[0], argv[1:])
    failures = 0
    for name in names:
        print(f"== bench {name}", flush=True)
        failures += run(name, []) != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
