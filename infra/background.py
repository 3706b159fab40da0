"""Processes that outlive the command that started them, tracked by pid files.

``make deploy-local`` returns while the endpoint and the results API keep
running; ``make destroy-local`` stops them. Each has a pid file and a log file
in a state directory; the log holds one start's output (the one before is
kept as ``<name>.previous.log``), so what a failed start reports is its own
cause, never an older run's lines. A pid is trusted only while ``/proc/<pid>/cmdline``
still names the module that was started, so a stale pid file (after a reboot,
or a recycled pid) never leads to signalling someone else's process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class StartError(Exception):
    """A background process exited or did not become ready; the message quotes its log's
    last line, the cause it printed."""


@dataclass(frozen=True)
class Background:
    """One named background process: ``python -m <module>`` with a pid and a log file."""

    name: str
    module: str
    state_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.state_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.state_dir / f"{self.name}.log"

    @property
    def previous_log_file(self) -> Path:
        return self.state_dir / f"{self.name}.previous.log"

    def start(self, args: Sequence[str], env: Mapping[str, str], cwd: Path) -> int:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.log_file.exists():
            self.log_file.replace(self.previous_log_file)
        with self.log_file.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", self.module, *args],
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C in this terminal later does not reach it.
                start_new_session=True,
            )
        self._wait_for_exec(process)
        self.pid_file.write_text(f"{process.pid}\n")
        return process.pid

    def _wait_for_exec(self, process: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
        """Return once the child runs ``python -m <module>`` (or has exited).

        Between fork and exec, ``/proc/<pid>/cmdline`` still shows this
        process's command line, so ``pid()`` would take a child that is only
        slow to start (a busy machine) for one that already exited.
        """
        deadline = time.monotonic() + timeout_s
        while process.poll() is None and not runs_module(process.pid, self.module):
            if time.monotonic() > deadline:
                return  # wait_ready reports it with the log
            time.sleep(0.005)  # exec takes milliseconds; poll for it

    def pid(self) -> int | None:
        """The recorded pid while that process runs and is still ``python -m <module>``."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if runs_module(pid, self.module) else None

    def wait_ready(self, ready: Callable[[], bool], timeout_s: float) -> None:
        """Poll ``ready`` until true; StartError if the process dies or the deadline passes."""
        deadline = time.monotonic() + timeout_s
        while not ready():
            if self.pid() is None:
                raise StartError(f"the {self.name} exited while starting: {self.last_words()}")
            if time.monotonic() > deadline:
                raise StartError(
                    f"the {self.name} was not ready within {timeout_s:.0f} s: {self.last_words()}"
                )
            time.sleep(0.1)  # polling interval while it starts

    def stop(self, grace_s: float = 15.0) -> int | None:
        """SIGTERM (SIGKILL after ``grace_s``); the pid stopped, or None if none ran."""
        pid = self.pid()
        self.pid_file.unlink(missing_ok=True)
        if pid is None:
            return None
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while runs_module(pid, self.module):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + grace_s
            time.sleep(0.05)  # polling interval while it finishes its runs
        return pid

    def last_words(self) -> str:
        """The last line this start logged (its cause, as the process put it), and where."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return "it logged nothing"
        said = [line.strip() for line in text.splitlines() if line.strip()]
        return f"{said[-1] if said else 'it logged nothing'} (log: {self.log_file})"

    def arguments(self) -> list[str]:
        """The command line of the recorded process while it runs (empty otherwise)."""
        pid = self.pid()
        if pid is None:
            return []
        try:
            raw = (Path("/proc") / str(pid) / "cmdline").read_bytes()
        except OSError:
            return []
        return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def runs_module(pid: int, module: str) -> bool:
    """True while ``pid`` is a live (not zombie) ``python -m module`` process."""
    proc = Path("/proc") / str(pid)
    try:
        arguments = (proc / "cmdline").read_bytes().split(b"\0")
        state = (proc / "stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    if state == "Z":
        return False
    return b"-m" in arguments and module.encode() in arguments
