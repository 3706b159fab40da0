"""The servers ``bench/api.py`` measures side by side, each started fresh per round.

- this tree's ``python -m api``;
- ``floor``: ``bench/_minimal_api.py``, a minimal Starlette app on the same
  server stack (uvicorn, uvloop + httptools) with one commit per post.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Server:
    name: str
    args: tuple[str, ...]  # after the interpreter
    cwd: Path
    pythonpath: str


def this_tree() -> Server:
    return Server("api", ("-m", "api"), ROOT, str(ROOT))


def floor() -> Server:
    return Server("floor", ("-m", "bench._minimal_api"), ROOT, str(ROOT))


FLOOR_DESCRIPTION = "minimal Starlette app, uvloop + httptools, one commit per post"
