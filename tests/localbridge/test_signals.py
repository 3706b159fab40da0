"""A stop that a signal handler sets never waits for a lock the main thread holds."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading

from localbridge.signals import SignalEvent
from tests.support import PROCESS_START_S

WAITER = """
import sys
from localbridge.cli.common import stop_on_signals
with stop_on_signals() as stop:
    print("waiting", flush=True)
    while not stop.wait(0.0001):  # as many passes through wait's lock as can be
        pass
print("stopped", flush=True)
"""


def test_set_while_the_events_own_lock_is_held_returns_at_once() -> None:
    """Where a handler runs when the signal lands inside ``Event.wait``: the event's
    lock held by the thread the handler interrupts (``threading.Event`` blocks here
    for good)."""
    event = SignalEvent()
    returned = threading.Event()

    def handler_inside_wait() -> None:
        with event._cond:  # type: ignore[attr-defined]  # the lock Event.set would take
            event.set()
        returned.set()

    threading.Thread(target=handler_inside_wait, daemon=True).start()
    assert returned.wait(PROCESS_START_S), "set() waited for the event's lock"
    assert event.is_set()
    assert event.wait(0)


def test_set_from_another_thread_wakes_every_waiter() -> None:
    event = SignalEvent()
    woken: list[bool] = []
    waiters = [threading.Thread(target=lambda: woken.append(event.wait())) for _ in range(3)]
    for waiter in waiters:
        waiter.start()
    assert not event.wait(0.01)
    event.set()
    for waiter in waiters:
        waiter.join(PROCESS_START_S)
    assert woken == [True, True, True]


def test_sigterm_stops_a_process_that_waits_in_a_tight_loop() -> None:
    process = subprocess.Popen([sys.executable, "-c", WAITER], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "waiting"
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=PROCESS_START_S)
    assert process.returncode == 0
    assert out.strip() == "stopped"
