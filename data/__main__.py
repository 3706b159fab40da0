"""``python -m data``: write a deterministic registrations DB (see ``data.generate``)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from data.generate import GenerateError, Spec, write


def parse(argv: list[str]) -> tuple[Spec, Path]:
    defaults = Spec()
    parser = argparse.ArgumentParser(prog="python -m data", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("data/registrations.db"))
    parser.add_argument("--rows", type=int, default=defaults.rows, help="rows to write")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--index", action="store_true", help="add an index on timestamp")
    args = parser.parse_args(argv)
    return Spec(rows=args.rows, seed=args.seed, index=args.index), args.out


def main(argv: list[str]) -> int:
    spec, out = parse(argv)
    started = time.perf_counter()
    try:
        write(spec, out)
    except GenerateError as exc:
        print(f"python -m data: {exc}", file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - started
    print(f"wrote {spec.rows} registrations to {out} in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
