"""Run the real ``chalice`` CLI, echo its progress, and turn a failure into one line.

Chalice prints a full Python traceback for anything it does not expect (an AWS
error, a bad policy file). Users need the last line of it, not the frames: the
frames are dropped from the echo and the exception line becomes the summary.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# The installed chalice has no ``__main__``; this is what its console script runs.
CHALICE_MAIN = "import sys; from chalice.cli import main; sys.exit(main())"
TRACEBACK_HEAD = "Traceback (most recent call last):"


class ChaliceError(Exception):
    """``chalice`` exited non-zero; the message is a one-line summary of why."""


ERROR_HEAD = "ERROR - "


@dataclass
class TracebackFilter:
    """Feeds chalice's output line by line; keeps what a person should see.

    Traceback frames (the indented lines after ``Traceback ...``) are dropped.
    The failure's explanation - the exception that ends a traceback, or
    chalice's own ``ERROR - ...`` report - is remembered with every line that
    follows it: chalice wraps those messages over several lines, and the
    summary must not stop mid-sentence.
    """

    echo: Callable[[str], None]
    in_traceback: bool = False
    explanation: list[str] | None = None
    last_line: str | None = None
    seen: list[str] = field(default_factory=list)

    def feed(self, line: str) -> None:
        text = line.rstrip("\n")
        self.seen.append(text)
        if text.startswith(TRACEBACK_HEAD):
            self.in_traceback = True
            return
        if self.in_traceback and (not text or text[0].isspace()):
            return
        if self.in_traceback or text.startswith(ERROR_HEAD):
            self.in_traceback = False
            self.explanation = []
        if text.strip():
            if self.explanation is not None:
                self.explanation.append(text.strip())
            self.last_line = text
            self.echo(text)

    def summary(self) -> str:
        """Why chalice failed, wrapped lines joined; else its last message; else a note."""
        if self.explanation:
            return unwrap(self.explanation)
        return self.last_line or "no output"


def unwrap(lines: list[str]) -> str:
    """Undo ``textwrap``: join with spaces, except after a hyphen it broke a word at."""
    text = lines[0]
    for line in lines[1:]:
        broke_at_hyphen = text.endswith("-") and text[-2:-1].isalnum()
        text += line if broke_at_hyphen else f" {line}"
    return text


def chalice_command(project_dir: Path, args: Sequence[str]) -> list[str]:
    return [sys.executable, "-c", CHALICE_MAIN, "--project-dir", str(project_dir), *args]


def run_chalice(
    project_dir: Path,
    args: Sequence[str],
    env: Mapping[str, str],
    echo: Callable[[str], None],
) -> None:
    """Run ``chalice args...`` to completion; raise ChaliceError with a summary on failure."""
    output = TracebackFilter(echo)
    with subprocess.Popen(
        chalice_command(project_dir, args),
        cwd=project_dir,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            output.feed(line)
    if process.returncode != 0:
        raise ChaliceError(
            f"chalice {' '.join(args)} failed (exit {process.returncode}): {output.summary()}"
        )
