"""Group commit: writes from many threads share one transaction.

A thread that submits while another commits waits, then commits everything
that queued up meanwhile in one go. When ``submit`` returns, the item is
committed, as if each thread had its own transaction: under a burst (10,000
functions due at once) the ledger does a few hundred commits instead of
10,000, and with one writer it costs nothing extra.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[list[T]], None]) -> None:
        self._write = write
        self._queued: list[T] = []
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()

    def submit(self, item: T) -> None:
        with self._queue_lock:
            self._queued.append(item)
        with self._commit_lock:
            with self._queue_lock:
                batch, self._queued = self._queued, []
            # Empty when an earlier committer already took (and wrote) our item.
            if batch:
                self._write(batch)
