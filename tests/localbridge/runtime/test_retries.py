"""Retry, dead-letter and catch-up rules, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from localbridge import parse_schedule
from localbridge.model import CatchUp, FunctionSettings, Outcome
from localbridge.runtime.catchup import plan_catch_up
from localbridge.runtime.retries import after_attempt, is_expired
from localbridge.ticks import Tick, TickSource, TickState

T0 = datetime(2022, 12, 19, 0, 0, tzinfo=UTC)
HOURLY = parse_schedule("cron(0 * * * ? *)")


def tick(failures: int, enqueued_at: datetime = T0) -> Tick:
    return Tick(
        1, "f", T0, TickState.RUNNING, TickSource.SCHEDULE, failures + 1, failures, None,
        enqueued_at, None, T0, T0,
    )  # fmt: skip


def test_success_ends_the_tick() -> None:
    decision = after_attempt(tick(0), Outcome.SUCCEEDED, FunctionSettings(), T0)
    assert decision.state is TickState.SUCCEEDED


@pytest.mark.parametrize("outcome", [Outcome.ERROR, Outcome.TIMEOUT, Outcome.CRASHED])
def test_failures_retry_after_one_then_two_minutes_then_die(outcome: Outcome) -> None:
    settings = FunctionSettings()
    first = after_attempt(tick(0), outcome, settings, T0)
    second = after_attempt(tick(1), outcome, settings, T0)
    third = after_attempt(tick(2), outcome, settings, T0)
    assert (first.state, first.next_attempt_at) == (TickState.RETRYING, T0 + timedelta(minutes=1))
    assert (second.state, second.next_attempt_at) == (TickState.RETRYING, T0 + timedelta(minutes=2))
    assert third.state is TickState.DEAD


def test_no_retries_means_dead_after_the_first_failure() -> None:
    settings = FunctionSettings(maximum_retry_attempts=0)
    assert after_attempt(tick(0), Outcome.ERROR, settings, T0).state is TickState.DEAD


def test_a_retry_past_the_maximum_event_age_is_not_scheduled() -> None:
    settings = FunctionSettings(maximum_event_age=timedelta(seconds=90))
    late = T0 + timedelta(seconds=40)
    assert after_attempt(tick(0), Outcome.ERROR, settings, late).state is TickState.DEAD
    assert is_expired(tick(0), settings, T0 + timedelta(seconds=91))
    assert not is_expired(tick(0), settings, T0 + timedelta(seconds=90))


@pytest.mark.parametrize(
    ("policy", "run_hours", "skip_hours"),
    [
        (CatchUp.ALL, [3, 4, 5, 6], []),
        (CatchUp.LATEST, [6], [3, 4, 5]),
        (CatchUp.NONE, [], [3, 4, 5, 6]),
    ],
)
def test_catch_up_policies_within_the_event_age(
    policy: CatchUp, run_hours: list[int], skip_hours: list[int]
) -> None:
    # Down from 00:00 to 06:30: ticks 01:00..06:00 were missed, 01:00 and
    # 02:00 are older than the 4 h maximum age and are dropped.
    settings = FunctionSettings(catch_up=policy, maximum_event_age=timedelta(hours=4))
    now = T0 + timedelta(hours=6, minutes=30)
    plan = plan_catch_up(HOURLY, T0, now, settings)
    assert plan.run == [T0 + timedelta(hours=h) for h in run_hours]
    assert plan.skip == [T0 + timedelta(hours=h) for h in skip_hours]
    assert plan.too_old_before == now - timedelta(hours=4)


def test_no_catch_up_when_nothing_was_missed() -> None:
    plan = plan_catch_up(HOURLY, T0, T0 + timedelta(minutes=59), FunctionSettings())
    assert (plan.run, plan.skip, plan.too_old_before) == ([], [], None)
