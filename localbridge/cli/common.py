"""What the commands share: exit codes, argument types, options, and a session
(the runtime with its invoker and ledger) to run them in."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from localbridge.clock import Clock, SystemClock, VirtualClock
from localbridge.instants import parse_user_instant
from localbridge.lambda_api.server import DEFAULT_HOST, DEFAULT_PORT
from localbridge.ledger.store import DEFAULT_LEDGER, Ledger
from localbridge.model import MAX_EVENT_AGE, MAX_RETRY_ATTEMPTS, FunctionSpec, Invoker
from localbridge.project.discovery import parse_env_overrides
from localbridge.project.loading import load_functions
from localbridge.runtime.assemble import Mode, make_invoker, make_runtime, warm
from localbridge.runtime.loop import Runtime
from localbridge.runtime.replay import BatchSummary

EXIT_OK, EXIT_FUNCTION_ERROR, EXIT_USAGE = 0, 1, 2
DEFAULT_GRACE_S = 10.0
MAX_NUMBER = 1e9
"""The largest number an option takes: a billion times real speed, seconds, or runs."""


class UsageError(Exception):
    """Bad command-line input; exit 2 with the message."""


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


def add_project_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stage", default="local", help="Chalice stage (default: local)")
    parser.add_argument(
        "--project", type=Path, default=Path("."), help="the Chalice project (default: .)"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override an environment variable for every function (repeatable)",
    )
    parser.add_argument(
        "--mode",
        type=Mode,
        choices=list(Mode),
        default=Mode.PROCESS,
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


def load(args: argparse.Namespace, in_process: bool = False) -> list[FunctionSpec]:
    """The project's functions; ``in_process`` (one-shot commands) imports the app here."""
    overrides = parse_env_overrides(args.env)
    specs = load_functions(args.project, args.stage, overrides, in_process)
    return with_retry_options(args, specs)


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


def with_retry_options(args: argparse.Namespace, specs: list[FunctionSpec]) -> list[FunctionSpec]:
    retries, delay = getattr(args, "retries", None), getattr(args, "retry_delay", None)
    if retries is None and delay is None:
        return specs
    if delay is not None and delay > MAX_EVENT_AGE.total_seconds():
        raise UsageError(
            f"--retry-delay {delay:g}: at most {MAX_EVENT_AGE.total_seconds():g} seconds "
            "(the maximum event age; a later retry could never run)"
        )
    changes: dict[str, Any] = {}
    if retries is not None:
        changes["maximum_retry_attempts"] = retries
    if delay is not None:
        changes["retry_delays"] = (timedelta(seconds=delay),)
    return [replace(spec, settings=replace(spec.settings, **changes)) for spec in specs]


@dataclass
class Session:
    """A runtime with its invoker and ledger, closed together."""

    runtime: Runtime
    invoker: Invoker
    ledger: Ledger


@contextmanager
def open_session(
    args: argparse.Namespace, clock: Callable[[], Clock], **options: Any
) -> Iterator[Session]:
    """Load and warm everything first, then start the clock: a virtual clock
    must not run ahead while workers start."""
    functions = load(args)
    ledger = Ledger.open(args.ledger)
    invoker = make_invoker(args.mode, args.project)
    try:
        warm(invoker, functions)
        runtime = make_runtime(functions, ledger, invoker, clock(), **options)
        yield Session(runtime, invoker, ledger)
    finally:
        invoker.close()
        ledger.close()


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by Ctrl-C or SIGTERM (the previous handlers come back after)."""
    stop = threading.Event()
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda number, frame: stop.set())
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
    print(f"{what}: {counts or 'nothing to run'}{skipped}")
    return EXIT_OK if summary.ok else EXIT_FUNCTION_ERROR
