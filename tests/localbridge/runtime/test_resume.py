"""What a start finds, walked from the clock's start against what the ledger held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from localbridge.model import FunctionSpec
from localbridge.runtime.functions import Function, anchored_schedule
from localbridge.runtime.resume import NoNext, ResumePoint, resume_points
from localbridge.ticks import TickState

START = datetime(2022, 12, 18, 23, 59, tzinfo=UTC)
HOUR = timedelta(hours=1)
FIRST = START + timedelta(minutes=1)  # the first hourly instant: 2022-12-19T00:00Z


def hourly(expression: str = "cron(0 * * * ? *)") -> Function:
    spec = FunctionSpec("hourly", "app.hourly", expression, app_name="rt", stage="local")
    return Function(spec, anchored_schedule(expression, START))


def point(
    held: dict[datetime, TickState],
    until: datetime | None = None,
    paused: frozenset[str] = frozenset(),
    function: Function | None = None,
) -> ResumePoint:
    def states(name: str, after: datetime, through: datetime) -> dict[datetime, TickState]:
        assert name == "hourly"
        return {at: state for at, state in held.items() if after < at <= through}

    (found,) = resume_points([function or hourly()], states, START, until, paused)
    return found


def test_nothing_held_fires_the_first_instant() -> None:
    assert point({}) == ResumePoint("hourly", 0, None, None, FIRST)


def test_finished_instants_are_counted_and_the_first_unheld_fires() -> None:
    held = {FIRST: TickState.SUCCEEDED, FIRST + HOUR: TickState.DEAD}
    assert point(held) == ResumePoint("hourly", 2, FIRST, FIRST + HOUR, FIRST + 2 * HOUR, dead=1)


@pytest.mark.parametrize("state", [TickState.PENDING, TickState.RETRYING])
def test_an_unfinished_instant_is_what_runs_next(state: TickState) -> None:
    held = {FIRST: TickState.SUCCEEDED, FIRST + HOUR: state}
    assert point(held).next == FIRST + HOUR


def test_every_instant_to_the_clock_end_done_fires_nothing_more() -> None:
    held = {FIRST + n * HOUR: TickState.SUCCEEDED for n in range(3)}
    found = point(held, until=FIRST + 2 * HOUR + timedelta(minutes=30))
    assert (found.done, found.next, found.why) == (3, None, NoNext.PAST_CLOCK_END)


def test_a_paused_function_fires_nothing() -> None:
    found = point({FIRST: TickState.SUCCEEDED}, paused=frozenset({"hourly"}))
    assert (found.done, found.next, found.why) == (1, None, NoNext.PAUSED)


def test_an_expression_with_no_instant_left_says_so() -> None:
    found = point({}, function=hourly("cron(0 0 1 1 ? 2020)"))
    assert (found.done, found.next, found.why) == (0, None, NoNext.NO_INSTANT_LEFT)


def test_a_long_done_period_is_walked_a_chunk_at_a_time() -> None:
    held = {FIRST + n * HOUR: TickState.SUCCEEDED for n in range(1000)}
    assert point(held) == ResumePoint(
        "hourly", 1000, FIRST, FIRST + 999 * HOUR, FIRST + 1000 * HOUR
    )
