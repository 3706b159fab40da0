"""Clocks: real, virtual and manual time, and interruptible waits."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from localbridge.clock import ManualClock, SystemClock, VirtualClock, Wakeup
from tests.support import wait_for

START = datetime(2022, 12, 18, 23, 59, tzinfo=UTC)


def wait_in_thread(clock: ManualClock, instant: datetime | None, wakeup: Wakeup) -> list[bool]:
    outcome: list[bool] = []
    thread = threading.Thread(target=lambda: outcome.append(clock.wait_until(instant, wakeup)))
    thread.start()
    return outcome


def test_manual_clock_wait_returns_only_once_advanced_past_the_target() -> None:
    clock = ManualClock(START)
    outcome = wait_in_thread(clock, START + timedelta(minutes=1), Wakeup())
    clock.advance(timedelta(seconds=59))
    assert outcome == []  # still waiting: one second short
    clock.advance(timedelta(seconds=1))
    assert wait_for(lambda: outcome) == [True]


def test_a_wakeup_interrupts_a_wait_and_is_consumed() -> None:
    clock = ManualClock(START)
    wakeup = Wakeup()
    outcome = wait_in_thread(clock, None, wakeup)
    wakeup.set()
    assert wait_for(lambda: outcome) == [False]
    assert not wakeup.is_set


def test_waiting_for_an_instant_already_past_returns_at_once() -> None:
    assert ManualClock(START).wait_until(START, Wakeup()) is True


def test_manual_clock_refuses_to_go_back() -> None:
    with pytest.raises(ValueError, match="does not go back"):
        ManualClock(START).set(START - timedelta(seconds=1))


def test_virtual_clock_starts_at_its_start_and_runs_at_its_speed() -> None:
    clock = VirtualClock(START, speed=3600)
    first = clock.now()
    assert START <= first < START + timedelta(minutes=10)
    # One virtual hour is one real second at this speed: wait for it, never early.
    target = first + timedelta(minutes=30)
    assert clock.wait_until(target, Wakeup()) is True
    assert clock.now() >= target
    assert clock.speed == 3600


def test_virtual_clock_rejects_a_speed_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        VirtualClock(START, speed=0)


def test_naive_start_is_taken_as_utc() -> None:
    clock = ManualClock(datetime(2022, 1, 1))
    assert clock.now() == datetime(2022, 1, 1, tzinfo=UTC)


def test_system_clock_is_timezone_aware_and_never_returns_early() -> None:
    clock = SystemClock()
    target = clock.now() + timedelta(milliseconds=20)
    assert clock.wait_until(target, Wakeup()) is True
    assert clock.now() >= target
    assert clock.now().tzinfo is UTC
