"""next_fire_times calls per second for typical expressions, against croniter.

Both sides are used the way a scheduler uses them: parse once, then ask again
and again for the next instant after the previous one. Ours is
``schedule.next_fire_times(previous)``; croniter's is ``get_next()`` on one
iterator over the equivalent five-field expression. Each figure is the best of
several rounds of CPU time (as ``timeit`` reports the best: the round other
load on a shared machine disturbed least);
the ratio is ours / croniter's (above 1 = faster).

The floor, measured in the same run, is the least any answer costs here: one
call that reads the fields of ``after`` and builds a UTC datetime from them.
It shows how busy the machine was; the target (250k calls/s) is absolute.

    python -m bench schedules [--calls N] [--rounds R]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from collections.abc import Callable

from croniter import croniter

from localbridge import parse_schedule

START = dt.datetime(2022, 12, 18, 23, 59, tzinfo=dt.UTC)
# Rates anchored on a whole hour fire where croniter's "*/5" does.
RATE_ANCHOR = dt.datetime(2022, 12, 18, tzinfo=dt.UTC)

# (AWS expression, croniter's five-field equivalent: weekdays from 0, no year)
EXPRESSIONS = [
    ("cron(0 1 ? * MON *)", "0 1 * * 1"),
    ("cron(5 0 * * ? *)", "5 0 * * *"),
    ("cron(0/15 * * * ? *)", "*/15 * * * *"),
    ("rate(5 minutes)", "*/5 * * * *"),
    ("cron(0 9 ? * 6L *)", "0 9 * * L5"),
    ("cron(0 9 ? * 3#2 *)", "0 9 * * 2#2"),
    ("cron(0/5 8-17 ? * MON-FRI *)", "*/5 8-17 * * 1-5"),
]


# Both sides go back to START every CHAIN calls, so that monthly schedules stay
# in the same decade (and inside AWS's years) however many calls are measured.
CHAIN = 100
TARGET = 250_000


def ours(expression: str) -> Callable[[int], None]:
    schedule = parse_schedule(expression, anchor=RATE_ANCHOR)

    def run(calls: int) -> None:
        for _ in range(calls // CHAIN):
            moment = START
            for _ in range(CHAIN):
                moment = schedule.next_fire_times(moment)[0]

    return run


def theirs(five_fields: str) -> Callable[[int], None]:
    iterator = croniter(five_fields, START)

    def run(calls: int) -> None:
        for _ in range(calls // CHAIN):
            iterator.set_current(START, force=True)
            for _ in range(CHAIN):
                iterator.get_next(dt.datetime)

    return run


def floor() -> Callable[[int], None]:
    """One call per answer that reads ``after``'s fields and builds a datetime: no schedule."""

    def answer(after: dt.datetime) -> list[dt.datetime]:
        return [dt.datetime(after.year, after.month, after.day, after.hour, 0, tzinfo=dt.UTC)]

    def run(calls: int) -> None:
        for _ in range(calls // CHAIN):
            moment = START
            for _ in range(CHAIN):
                moment = answer(moment)[0]

    return run


def calls_per_second(run: Callable[[int], None], calls: int, rounds: int) -> float:
    run(CHAIN)  # warm up caches and imports outside the measurement
    rates = []
    for _ in range(rounds):
        started = time.process_time()
        run(calls)
        rates.append(calls / (time.process_time() - started))
    return max(rates)


def same_instants(expression: str, five_fields: str, count: int = 50) -> bool:
    """Guard: the two sides must agree before their speeds are compared."""
    mine = parse_schedule(expression, anchor=RATE_ANCHOR).next_fire_times(START, count)
    iterator = croniter(five_fields, START)
    return mine == [iterator.get_next(dt.datetime) for _ in range(count)]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench schedules", description=__doc__)
    parser.add_argument(
        "--calls", type=int, default=2000, help=f"calls per round (a multiple of {CHAIN})"
    )
    parser.add_argument("--rounds", type=int, default=15, help="rounds; the best is reported")
    args = parser.parse_args(argv)
    print(f"next fire time, calls/s (best of {args.rounds} rounds x {args.calls} calls)")
    least = calls_per_second(floor(), args.calls, args.rounds)
    print(f"floor (read after, build a datetime; no schedule): {least:,.0f} calls/s")
    print(
        f"{'expression':<30} {'croniter equivalent':<20} {'ours':>10} {'/floor':>6} "
        f"{'croniter':>10} {'ratio':>6}"
    )
    rates = []
    for expression, five_fields in EXPRESSIONS:
        if not same_instants(expression, five_fields):
            print(f"{expression}: disagrees with croniter's {five_fields!r}; not compared")
            return 1
        mine = calls_per_second(ours(expression), args.calls, args.rounds)
        reference = calls_per_second(theirs(five_fields), args.calls, args.rounds)
        rates.append(mine)
        print(
            f"{expression:<30} {five_fields:<20} {mine:>10,.0f} {mine / least:>6.2f} "
            f"{reference:>10,.0f} {mine / reference:>5.1f}x"
        )
    slowest = min(rates)
    verdict = "met" if slowest >= TARGET else "MISSED"
    print(
        f"target: at least {TARGET:,} calls/s for every expression: {verdict}",
        f"(slowest {slowest:,.0f})",
    )
    return 0
