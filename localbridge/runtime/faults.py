"""Faults that stop the runtime: the ledger refused a write, or a thread of the fire path died.

A scheduler that cannot record what it does must not go on: ticks it fired
would be fired again after a restart, and a loop thread that died leaves a
process that looks alive and fires nothing. So the threads of the fire path
(the loop, the settler, the dispatcher's hand-offs, replay's workers) report
the first such error here instead of logging it and going on; the command
driving the runtime waits on ``Faults.occurred`` beside its stop signal,
stops everything (runs in flight get their grace, the outcomes that can still
be recorded are) and exits with one line, ``RuntimeFaultError``'s message.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

from localbridge.ledger.opening import describe

log = logging.getLogger("localbridge")


class RuntimeFaultError(Exception):
    """The runtime stopped on a fault; ``str()`` says the cause and what to do, in one line."""


def explain(ledger: Path, error: BaseException, unrecorded: int = 0) -> str:
    """``error`` as one line a person can act on; ``unrecorded``: runs whose outcome
    the ledger did not take (their ticks run again at the restart)."""
    lost = (
        f"; {unrecorded} run(s) without a recorded outcome (a restart runs them again)"
        if unrecorded
        else ""
    )
    if isinstance(error, sqlite3.Error | OSError):
        text = describe(ledger, error)
        if "locked" in text or "busy" in text:
            return (
                f"the ledger {ledger} stayed locked past its timeout ({error}){lost}; "
                "stop whatever holds it (another process writing it, an open sqlite3 shell), "
                "then start again: due ticks fire then"
            )
        return f"{text}{lost}; then start again (due ticks fire then)"
    return (
        f"the runtime stopped on an unexpected error ({type(error).__name__}: {error}){lost}; "
        "start again: due ticks fire then (run with -v for details)"
    )


class Faults:
    """The first fault of a runtime, and who is told of it (thread-safe)."""

    def __init__(self, ledger: Path) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        self.occurred = threading.Event()
        """Set once a fault was reported."""
        self.error: BaseException | None = None
        self.unrecorded = 0
        """Runs whose outcome the ledger did not take (``not_recorded``)."""
        self._callbacks: list[Callable[[], object]] = []

    def report(self, error: BaseException) -> None:
        """Record ``error`` as the runtime's fault (the first one wins) and tell the callbacks."""
        with self._lock:
            if self.error is not None:
                return
            self.error = error
            callbacks = list(self._callbacks)
        # The traceback is for -v; the person reads the one line at the exit.
        log.debug("the runtime stops on a fault", exc_info=error)
        self.occurred.set()
        for callback in callbacks:
            callback()

    def refuse(self, error: BaseException) -> RuntimeFaultError:
        """Report ``error`` and give what to raise to a caller the runtime failed
        (an Invoke API request, ``invoke``): the fault's one line."""
        self.report(error)
        return RuntimeFaultError(explain(self._ledger, error))

    def not_recorded(self, runs: int) -> None:
        """``runs`` ended but the ledger did not take their outcomes: their attempts
        stay open, so a restart runs their ticks again; the exit's line says how many."""
        with self._lock:
            self.unrecorded += runs

    def on_fault(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` (on the reporting thread) once a fault is reported."""
        with self._lock:
            self._callbacks.append(callback)
            happened = self.error is not None
        if happened:
            callback()

    def raise_if_any(self) -> None:
        """Raise the fault as ``RuntimeFaultError`` with its one line, when there was one."""
        if self.error is not None:
            raise RuntimeFaultError(explain(self._ledger, self.error, self.unrecorded)) from None
