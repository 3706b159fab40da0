"""The servers ``bench/api.py`` measures side by side, each started fresh per round.

- this tree's ``python -m api``;
- the peer: the API as a git ref ships it (``git archive``), run in this
  interpreter; from a ref without ``api/protocol.py`` (before uvloop and
  httptools were locked) with both hidden from it, so uvicorn picks the
  asyncio loop and h11, as it did there;
- ``floor``: ``bench/_minimal_api.py``, a minimal Starlette app on uvloop +
  httptools with one commit per post.
"""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HIDE = 'raise ImportError("hidden: main ships without it")\n'


@dataclass(frozen=True)
class Server:
    name: str
    args: tuple[str, ...]  # after the interpreter
    cwd: Path
    pythonpath: str


def this_tree() -> Server:
    return Server("this tree", ("-m", "api"), ROOT, str(ROOT))


def floor() -> Server:
    return Server(
        "floor: minimal Starlette, uvloop+httptools, 1 commit/post",
        ("-m", "bench._minimal_api"),
        ROOT,
        str(ROOT),
    )


def branch(ref: str, workdir: Path) -> Server | None:
    """The API as ``ref`` ships it, or None when git cannot give it (then not compared)."""
    try:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", ref, "api"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    tree = Path(tempfile.mkdtemp(prefix=f"bench-{ref}-", dir=workdir))
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(tree, filter="data")
    hidden = tree / "_hidden"
    hidden.mkdir()
    # Hidden only from a ref that ships without them: one that imports them
    # (api/protocol.py) would not start at all.
    if not (tree / "api" / "protocol.py").exists():
        for module in ("uvloop", "httptools"):
            (hidden / f"{module}.py").write_text(HIDE)
    return Server(f"{ref} (as shipped)", ("-m", "api"), tree, f"{hidden}:{tree}")
