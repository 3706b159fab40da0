"""Clocks: the only source of "now" for the runtime, and the way it waits.

The runtime never reads the wall clock itself. It asks a ``Clock`` for the time
and waits for an instant through ``Clock.wait_until``, which a ``Wakeup`` can
interrupt (a new tick to run, a reload, a stop). ``SystemClock`` is real time,
``VirtualClock`` runs from a chosen instant at a chosen speed (``make run``),
``ManualClock`` only moves when a test advances it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from localbridge.instants import utc


class Wakeup:
    """An interruptible wait: ``set()`` wakes whoever waits on it, once.

    Built on a ``Condition`` (not an ``Event``) so a ``ManualClock`` can also
    nudge a waiter when its time moves, without pretending it was interrupted.
    """

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self._is_set = False

    def set(self) -> None:
        with self.condition:
            self._is_set = True
            self.condition.notify_all()

    def consume(self) -> bool:
        """True (and reset) when someone called ``set`` since the last ``consume``."""
        with self.condition:
            was_set, self._is_set = self._is_set, False
            return was_set

    @property
    def is_set(self) -> bool:
        return self._is_set

    def nudge(self) -> None:
        """Wake a waiter so it re-reads its clock; it is not an interruption."""
        with self.condition:
            self.condition.notify_all()


def _wait_real_time(
    now: Callable[[], datetime], speed: float, instant: datetime | None, wakeup: Wakeup
) -> bool:
    """Shared wait for clocks that move with real time at ``speed``."""
    with wakeup.condition:
        while True:
            if wakeup.consume():
                return False
            if instant is None:
                wakeup.condition.wait()
                continue
            remaining = (instant - now()).total_seconds() / speed
            if remaining <= 0:
                return True
            wakeup.condition.wait(remaining)


class SystemClock:
    """Real time, started at ``started_at`` (default: when created).

    ``localbridge run`` passes the moment the command began, so an instant
    due while it loads and warms the functions still fires.
    """

    speed = 1.0

    def __init__(self, started_at: datetime | None = None) -> None:
        self.started_at = utc(started_at) if started_at is not None else datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def wait_until(self, instant: datetime | None, wakeup: Wakeup) -> bool:
        return _wait_real_time(self.now, self.speed, instant, wakeup)


class VirtualClock:
    """Time that starts at ``start`` when created and runs ``speed`` times real time."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self._start = utc(start)
        self._speed = float(speed)
        self._origin = time.monotonic()

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def started_at(self) -> datetime:
        return self._start

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._origin) * self._speed
        return self._start + timedelta(seconds=elapsed)

    def wait_until(self, instant: datetime | None, wakeup: Wakeup) -> bool:
        return _wait_real_time(self.now, self._speed, instant, wakeup)

    def monotonic_at(self, instant: datetime) -> float:
        """The ``time.monotonic()`` reading at which this clock shows ``instant``."""
        return self._origin + (utc(instant) - self._start).total_seconds() / self._speed


class ManualClock:
    """A clock that stands still until ``advance``/``set`` moves it (tests)."""

    speed = 1.0

    def __init__(self, start: datetime) -> None:
        self._now = utc(start)
        self.started_at = self._now
        self._lock = threading.Lock()
        self._waiters: set[Wakeup] = set()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        instant = utc(instant)
        with self._lock:
            if instant < self._now:
                raise ValueError(f"a clock does not go back: {instant} < {self._now}")
            self._now = instant
            waiters = list(self._waiters)
        for waiter in waiters:
            waiter.nudge()

    def advance(self, delta: timedelta) -> None:
        self.set(self.now() + delta)

    def wait_until(self, instant: datetime | None, wakeup: Wakeup) -> bool:
        # Register before reading the time: a ``set`` racing with this check
        # must find us and nudge us once we are waiting.
        with self._lock:
            self._waiters.add(wakeup)
        try:
            with wakeup.condition:
                while True:
                    if wakeup.consume():
                        return False
                    if instant is not None and self.now() >= instant:
                        return True
                    wakeup.condition.wait()
        finally:
            with self._lock:
                self._waiters.discard(wakeup)
