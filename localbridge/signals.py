"""Stopping on Ctrl-C and SIGTERM without a lock in the signal handler.

A handler runs in the main thread between two bytecodes, wherever that thread
was. ``threading.Event.set`` takes the event's lock; if the signal lands while
the main thread holds that lock (inside ``Event.wait``), the handler waits for
it forever and the process never stops. ``SignalEvent.set`` takes no lock: it
sets a flag and writes a byte to a pipe that ``wait`` polls.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import weakref
from collections.abc import Iterable


class SignalEvent(threading.Event):
    """A ``threading.Event`` that a signal handler may set."""

    def __init__(self) -> None:
        super().__init__()
        self._raised = False
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        weakref.finalize(self, os.close, self._read)
        weakref.finalize(self, os.close, self._write)

    def set(self) -> None:
        self._raised = True
        # Never drained, so every waiter wakes; a full pipe already wakes them.
        with contextlib.suppress(BlockingIOError):
            os.write(self._write, b"\0")

    def is_set(self) -> bool:
        return self._raised

    def wait(self, timeout: float | None = None) -> bool:
        if self._raised:
            return True
        poller = select.poll()  # poll, not select: any descriptor number works
        poller.register(self._read, select.POLLIN)
        poller.poll(None if timeout is None else max(0, int(timeout * 1000)))
        return self._raised

    def clear(self) -> None:
        raise NotImplementedError("a stop on signals is never taken back")


def set_on_signals(
    event: SignalEvent, signals: Iterable[signal.Signals] = (signal.SIGINT, signal.SIGTERM)
) -> None:
    """Ctrl-C and SIGTERM (by default) set ``event``."""
    for sig in signals:
        signal.signal(sig, lambda number, frame: event.set())
