"""A small progress bar on stderr (no dependency): redrawn in place on a
terminal, a line every tenth of the way otherwise (logs, CI)."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = total
        self.label = label
        self._stream = stream if stream is not None else sys.stderr
        self._interactive = self._stream.isatty()
        self._lock = threading.Lock()
        self._done = 0
        self._failed = 0
        self._started = time.monotonic()
        self._last_tenth = -1
        self._already_done = 0

    def advance(self, failed: bool = False) -> None:
        with self._lock:
            self._done += 1
            self._failed += int(failed)
            self._draw()

    def start(self, already_done: int = 0) -> None:
        with self._lock:
            self._done = self._already_done = already_done
            self._started = time.monotonic()
            self._draw()

    def _draw(self) -> None:
        fraction = self._done / self.total if self.total else 1.0
        tenth = int(fraction * 10)
        if not self._interactive and tenth == self._last_tenth and self._done != self.total:
            return
        self._last_tenth = tenth
        width = 30
        filled = int(fraction * width)
        ran = self._done - self._already_done
        rate = ran / max(time.monotonic() - self._started, 1e-3)
        line = (
            f"{self.label} [{'#' * filled}{'.' * (width - filled)}] "
            f"{self._done}/{self.total} ({self._failed} dead or failed) {rate:.1f}/s"
        )
        end = "" if self._interactive and self._done != self.total else "\n"
        prefix = "\r" if self._interactive else ""
        self._stream.write(f"{prefix}{line}{end}")
        self._stream.flush()

    def finish(self) -> None:
        with self._lock:
            if self._interactive and self._done != self.total:
                self._stream.write("\n")
                self._stream.flush()
