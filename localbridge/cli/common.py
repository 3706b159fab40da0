"""What the commands share: exit codes, argument types and options, a clock and a
stop signal. Light on purpose: building the parser imports only this (and the
small shared vocabulary), so a command imports what it runs and no more;
``session`` holds the runtime the running commands share.
"""

from __future__ import annotations

import argparse
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from localbridge.abc import Clock
from localbridge.clock import SystemClock, VirtualClock
from localbridge.instants import display_instant, parse_user_instant, whole_seconds
from localbridge.lambda_api import DEFAULT_HOST, DEFAULT_PORT
from localbridge.ledger.store import DEFAULT_LEDGER
from localbridge.model import MAX_RETRY_ATTEMPTS
from localbridge.signals import SignalEvent, set_on_signals

if TYPE_CHECKING:
    from localbridge.runtime.replay import BatchSummary
    from localbridge.schedules import Schedule

EXIT_OK, EXIT_FUNCTION_ERROR, EXIT_USAGE = 0, 1, 2
DEFAULT_GRACE_S = 10.0
MODES = ("process", "thread")
"""``--mode``'s values (``runtime.assemble.Mode``, which the session makes of it)."""
MAX_NUMBER = 1e9
"""The largest number an option takes: a billion times real speed, seconds, or runs."""


class UsageError(Exception):
    """Bad command-line input; exit 2 with the message."""


class OneLineParser(argparse.ArgumentParser):
    """A parser whose usage errors are one line naming the command's ``--help``.

    argparse prints the whole usage block first (up to eight lines for
    ``run``), which buries the one line that says what is wrong.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The innermost command's parser wins (a subcommand's defaults are set
        # over its parent's), so arguments left over are refused by it, by name.
        self.set_defaults(command_parser=self)

    def error(self, message: str) -> NoReturn:
        problem = " ".join(message.split())  # one line, whatever the message holds
        self.exit(EXIT_USAGE, f"localbridge: error: {problem}; see {self.prog} --help\n")


def parse_time(text: str) -> datetime:
    """An ISO-8601 instant; without a zone it is UTC."""
    try:
        return parse_user_instant(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def positive_float(text: str) -> float:
    """A finite number above 0 (no ``nan``, ``inf`` or 1e308: clocks and waits use them)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_NUMBER:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected a number above 0, at most {MAX_NUMBER:g}"
        )
    return value


def positive_int(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_NUMBER:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= 1")
    return int(text)


def port_number(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a port, 0 (any free one) to 65535")
    return int(text)


def add_project_location(parser: argparse.ArgumentParser) -> None:
    """``--stage`` and ``--project``: where the functions and their settings are."""
    parser.add_argument("--stage", default="local", help="Chalice stage (default: local)")
    parser.add_argument(
        "--project", type=Path, default=Path("."), help="the Chalice project (default: .)"
    )


def add_project_options(parser: argparse.ArgumentParser) -> None:
    add_project_location(parser)
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an environment variable for every function (repeatable)",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default=MODES[0],
        help="process: isolated warm workers, like Lambda (default); thread: in-process",
    )
    add_ledger_option(parser)


def add_ledger_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ledger",
        type=Path,
        default=DEFAULT_LEDGER,
        help=f"the run ledger (SQLite; default: {DEFAULT_LEDGER})",
    )


def add_lambda_api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=port_number,
        default=None,
        help=f"port of the Lambda Invoke API (default: {DEFAULT_PORT}; `run` skips the API "
        "with a warning when the default is busy; 0 picks a free port)",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address of the Lambda Invoke API (default: {DEFAULT_HOST}; 0.0.0.0 in containers)",
    )
    parser.add_argument(
        "--show-environment",
        action="store_true",
        help="let the Lambda API's ListFunctions/GetFunction show environment values "
        "(default: names only, values masked: they may be secrets)",
    )


def add_retry_options(parser: argparse.ArgumentParser) -> None:
    """``--retries``/``--retry-delay``: a backfill that fails fast, for this command only."""
    parser.add_argument(
        "--retries",
        type=int,
        choices=range(MAX_RETRY_ATTEMPTS + 1),
        help="retries of a failed run (default: the function's setting, 2 as in AWS)",
    )
    parser.add_argument(
        "--retry-delay",
        type=positive_float,
        metavar="SECONDS",
        help="seconds before each retry (default: the function's retry_delays, 60 and 120)",
    )


@contextmanager
def stop_on_signals() -> Iterator[SignalEvent]:
    """An event set by Ctrl-C or SIGTERM (the previous handlers come back after)."""
    stop = SignalEvent()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    set_on_signals(stop)
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def make_clock(args: argparse.Namespace, began: datetime | None = None) -> Clock:
    """The clock ``--clock-start``/``--speed`` ask for; real time from ``began`` otherwise.

    ``began`` is when the command started: the runtime fires every instant
    from the clock's start on, so one due while the functions load is not lost.
    """
    began = began or datetime.now(UTC)
    if args.clock_start is None and args.speed == 1.0:
        return SystemClock(began)
    return VirtualClock(args.clock_start or began, args.speed)


def print_summary(what: str, summary: BatchSummary) -> int:
    counts = ", ".join(f"{count} {state.value}" for state, count in sorted(summary.states.items()))
    skipped = f" ({summary.already_done} had already succeeded)" if summary.already_done else ""
    if summary.pruned:
        skipped += f" ({summary.pruned} handled before and pruned since: not run again)"
    print(f"{what}: {counts or 'nothing to run'}{skipped}")
    return EXIT_OK if summary.ok else EXIT_FUNCTION_ERROR


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC) - timedelta(minutes=1)
"""Just before the first instant a schedule may name (EventBridge's years start at 1970)."""
NO_DATE = "no date in 1970-2199 matches"


def never_again(schedule: Schedule, after: datetime) -> str:
    """What people read instead of the next instants of a schedule with none after
    ``after``: its last instant has passed, or it names none at all (30 February)."""
    last = last_fire_time(schedule, after)
    return f"never ({NO_DATE})" if last is None else f"never again (last: {display_instant(last)})"


def never_fires(schedule: Schedule, after: datetime) -> str:
    """The same as a sentence, for a schedule asked for instants it does not have."""
    last = last_fire_time(schedule, after)
    if last is None:
        return f"{schedule.expression} never fires ({NO_DATE})"
    since = f"after {whole_seconds(after)} (last: {display_instant(last)})"
    return f"{schedule.expression} never fires {since}"


def last_fire_time(schedule: Schedule, before: datetime) -> datetime | None:
    """The last instant of a schedule that has none after ``before``; None if it has none.

    "Fires after t" holds up to the last instant and never past it, so halving
    the span between 1970 and ``before`` finds it in about 27 steps: the
    instants are whole minutes, and a span of one minute holds at most one.
    """
    low, high = EARLIEST, before
    if not schedule.next_fire_times(low, 1):
        return None
    while high - low > timedelta(minutes=1):
        middle = low + (high - low) / 2
        if schedule.next_fire_times(middle, 1):
            low = middle
        else:
            high = middle
    return schedule.next_fire_times(low, 1)[0]
