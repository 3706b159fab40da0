"""How the runtime learns which functions are paused, within a second.

The pause state lives in the ledger (``ledger.pauses``), where ``localbridge
pause`` in another process writes it. Reading it at every fire would cost a
query per fire at high clock speeds, so ``PauseCheck`` keeps the set and
re-reads it when it is more than ``max_age`` real seconds old; a change made in
this process (the console) calls ``refresh`` and applies at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from localbridge.ledger.pauses import read_paused
from localbridge.runtime.functions import Function

MAX_AGE_S = 1.0


class PauseCheck:
    """``is_paused(name)``, from a copy of the ledger's set at most ``max_age`` s old."""

    def __init__(
        self,
        ledger_path: Path,
        max_age: float = MAX_AGE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = ledger_path
        self._max_age = max_age
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._paused: frozenset[str] = frozenset()
        self._read_at: float | None = None

    def refresh(self) -> frozenset[str]:
        paused = read_paused(self._path)
        with self._lock:
            self._paused = paused
            self._read_at = self._monotonic()
        return paused

    def paused(self) -> frozenset[str]:
        with self._lock:
            fresh = self._read_at is not None and self._monotonic() - self._read_at < self._max_age
            if fresh:
                return self._paused
        return self.refresh()

    def is_paused(self, name: str) -> bool:
        return name in self.paused()


class FireGate:
    """What may fire: not a paused function, nothing scheduled after ``until`` (--clock-end)."""

    def __init__(self, ledger_path: Path, until: datetime | None = None) -> None:
        self.pauses = PauseCheck(ledger_path)
        self.until = until

    def open_at(self, instant: datetime) -> bool:
        return self.until is None or instant <= self.until

    def catch_up_window(
        self, functions: Iterable[Function], now: datetime, restarted: bool
    ) -> tuple[list[Function], datetime]:
        """The functions that may catch up (a paused rule catches nothing up, even
        after its resume), and the instant catch-up goes to."""
        paused = self.pauses.refresh() if restarted else frozenset[str]()
        through = now if self.until is None else min(now, self.until)
        return [f for f in functions if f.name not in paused], through
