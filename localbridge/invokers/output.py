"""Per-thread capture of what handlers print, for thread mode.

``sys.stdout`` and ``sys.stderr`` are process-wide, so thread mode puts a
router in front of them: a write from a thread that is capturing goes to that
thread's buffer, any other write goes through to the original stream.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

LOG_LIMIT_CHARS = 64 * 1024


class TailBuffer(list[str]):
    """One run's prints, never much more than the part ``bounded`` keeps: once they
    pass twice the limit, all but the last ``LOG_LIMIT_CHARS`` are dropped (and
    counted), so a chatty run in thread mode is not held whole in memory."""

    def __init__(self) -> None:
        super().__init__()
        self.size = 0
        self.dropped = 0
        """Characters dropped so far."""

    def append(self, text: str, /) -> None:
        super().append(text)
        self.size += len(text)
        if self.size > 2 * LOG_LIMIT_CHARS:
            joined = "".join(self)
            cut = len(joined) - LOG_LIMIT_CHARS
            self[:] = [joined[cut:]]
            self.dropped += cut
            self.size = LOG_LIMIT_CHARS


class _ThreadRoutedStream(io.TextIOBase):
    def __init__(self, original: TextIO, local: threading.local) -> None:
        self.original = original
        self._local = local

    def write(self, text: str) -> int:
        buffer: list[str] | None = getattr(self._local, "buffer", None)
        if buffer is None:
            return self.original.write(text)
        buffer.append(text)
        return len(text)

    def flush(self) -> None:
        self.original.flush()

    # What libraries ask of a console stream is answered by the real one.
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self.original.encoding

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return self.original.errors

    def fileno(self) -> int:
        return self.original.fileno()

    def isatty(self) -> bool:
        return self.original.isatty()


class OutputCapture:
    """Routes each capturing thread's prints into its own buffer while installed."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._installed: list[tuple[str, _ThreadRoutedStream]] = []
        self._lock = threading.Lock()

    def install(self) -> None:
        """Put the routers in front of sys.stdout/sys.stderr (once)."""
        with self._lock:
            if self._installed:
                return
            for name in ("stdout", "stderr"):
                router = _ThreadRoutedStream(getattr(sys, name), self._local)
                setattr(sys, name, router)
                self._installed.append((name, router))

    def uninstall(self) -> None:
        """Restore the original streams unless someone replaced ours since."""
        with self._lock:
            for name, router in self._installed:
                if getattr(sys, name) is router:
                    setattr(sys, name, router.original)
            self._installed.clear()

    @contextmanager
    def capturing(self) -> Iterator[list[str]]:
        """Within the block, this thread's prints land in the yielded list."""
        buffer = self.start()
        try:
            yield buffer
        finally:
            self.stop()

    def start(self) -> list[str]:
        """From now on this thread's prints land in the list returned (``capturing``
        without a context manager's cost, for the per-run path)."""
        buffer = TailBuffer()
        self._local.buffer = buffer
        return buffer

    def stop(self) -> None:
        self._local.buffer = None


def bounded(buffer: list[str]) -> str:
    """The captured text, its last 64 Ki characters when longer."""
    text = "".join(buffer)
    earlier = buffer.dropped if isinstance(buffer, TailBuffer) else 0
    if len(text) <= LOG_LIMIT_CHARS and not earlier:
        return text
    cut = max(0, len(text) - LOG_LIMIT_CHARS)
    return f"[{earlier + cut} earlier characters dropped]\n{text[cut:]}"
