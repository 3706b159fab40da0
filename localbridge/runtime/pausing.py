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
from collections.abc import Callable
from pathlib import Path

from localbridge.ledger.pauses import read_paused

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
