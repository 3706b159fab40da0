"""``python -m localbridge``: run, list, invoke, replay, next, runs, dlq.

Exit codes: 0 ok, 1 a function failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from localbridge import ScheduleError, parse_schedule
from localbridge.assemble import Mode, make_invoker, make_runtime, warm
from localbridge.clock import Clock, SystemClock, VirtualClock
from localbridge.discovery import DiscoveryError, parse_env_overrides
from localbridge.dispatch import display_instant
from localbridge.lambda_api import DEFAULT_HOST, DEFAULT_PORT
from localbridge.lambda_service import LambdaApiService
from localbridge.ledger import DEFAULT_LEDGER, Ledger
from localbridge.model import Invoker
from localbridge.project import ConfigError, load_functions
from localbridge.reload import SourceWatcher
from localbridge.replay import BatchSummary, redrive, replay
from localbridge.report import table, tick_json
from localbridge.runtime import ConfiguredFunction, Runtime, Service, UnknownFunctionError
from localbridge.ticks import Tick, TickState

EXIT_OK, EXIT_FUNCTION_ERROR, EXIT_USAGE = 0, 1, 2
DEFAULT_GRACE_S = 10.0
log = logging.getLogger("localbridge")


class UsageError(Exception):
    """Bad command-line input; exit 2 with the message."""


def parse_time(text: str) -> datetime:
    """An ISO-8601 instant; without a zone it is UTC."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 time, e.g. 2022-12-19T00:05:00Z"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a positive number")
    return value


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number >= 1")
    return int(text)


# -- shared pieces ---------------------------------------------------------


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


def load(args: argparse.Namespace) -> list[ConfiguredFunction]:
    try:
        overrides = parse_env_overrides(args.env)
    except DiscoveryError as error:
        raise ConfigError(str(error)) from None
    return load_functions(args.project, args.stage, overrides)


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
        warm(invoker, [f.spec for f in functions])
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


# -- run -------------------------------------------------------------------

ServiceFactory = Callable[[argparse.Namespace], Sequence[Service]]


def make_clock(args: argparse.Namespace) -> Clock:
    if args.clock_start is None and args.speed == 1.0:
        return SystemClock()
    start = args.clock_start or datetime.now(UTC)
    return VirtualClock(start, args.speed)


def describe_start(runtime: Runtime, clock: Clock, args: argparse.Namespace) -> None:
    speed = f" at {clock.speed:g}x" if clock.speed != 1 else ""
    print(
        f"localbridge: stage {args.stage}, {len(runtime.functions())} scheduled function(s), "
        f"clock {display_instant(clock.now())}{speed}, ledger {args.ledger}",
        flush=True,
    )
    now = clock.now()
    for function in runtime.functions():
        upcoming = function.schedule.next_fire_times(now, 1)
        first = display_instant(upcoming[0]) if upcoming else "never"
        print(f"  {function.name:<32} {function.spec.expression:<24} next {first}", flush=True)


def lambda_api_services(args: argparse.Namespace) -> list[Service]:
    """The Lambda Invoke API beside the runtime (``--port``, default 3001).

    ``run`` goes on without it when the default port is busy; ``serve``, which
    is nothing but the API, and any explicit ``--port`` fail instead.
    """
    port = DEFAULT_PORT if args.port is None else args.port
    required = args.port is not None or args.command == "serve"
    return [LambdaApiService(args.project.resolve(), args.stage, args.host, port, required)]


def add_lambda_api_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port of the Lambda Invoke API (default: {DEFAULT_PORT}; `run` skips the API "
        "with a warning when the default is busy; 0 picks a free port)",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address of the Lambda Invoke API (default: {DEFAULT_HOST}; 0.0.0.0 in containers)",
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """The Lambda Invoke API with the runtime's ledger and retries, but no timer."""
    return cmd_run(args, lambda_api_services, fire_schedules=False)


def cmd_run(
    args: argparse.Namespace, services: ServiceFactory | None = None, fire_schedules: bool = True
) -> int:
    # Services are made (and take their ports) before the clock starts: a busy
    # port fails here, and at --speed 172800 even a millisecond is minutes of
    # virtual time a rule created later would not fire for.
    started = list(services(args)) if services else []
    # Signals first: a stop requested while starting up is honoured once running.
    with (
        stop_on_signals() as stop,
        open_session(args, partial(make_clock, args), fire_schedules=fire_schedules) as session,
    ):
        runtime = session.runtime
        clock = runtime.clock

        def reload() -> None:
            runtime.reload(load(args))

        runtime.start()
        describe_start(runtime, clock, args)
        for service in started:
            service.start(runtime)
        watcher = SourceWatcher(args.project.resolve(), reload)
        watcher.start()
        # Bounded waits so signal handlers run promptly in the main thread.
        while not stop.wait(0.5):
            pass
        print("localbridge: stopping (runs in flight get a grace period)", flush=True)
        watcher.stop()
        for service in reversed(started):
            service.stop()
        runtime.stop(args.grace)
    return EXIT_OK


# -- list --------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    functions = load(args)
    now = datetime.now(UTC)
    marks, states = {}, {}
    if args.ledger.exists():
        ledger = Ledger.open(args.ledger)
        marks, states = ledger.function_marks(), ledger.last_states()
        ledger.close()
    rows = [["function", "expression", "description", "timeout", "next fire times", "last run"]]
    for configured in functions:
        spec = configured.spec
        mark = marks.get(spec.name)
        anchor = mark.anchor if mark and mark.expression == spec.expression else now
        schedule = parse_schedule(spec.expression, anchor=anchor)
        upcoming = ", ".join(display_instant(t) for t in schedule.next_fire_times(now, 3))
        state = states.get(spec.name)
        rows.append(
            [
                spec.name,
                spec.expression,
                schedule.describe(),
                f"{spec.timeout_s} s",
                upcoming or "never",
                state.value if state else "-",
            ]
        )
    print(table(rows))
    return EXIT_OK


# -- invoke --------------------------------------------------------------------


def cmd_invoke(args: argparse.Namespace) -> int:
    with open_session(args, SystemClock, fire_schedules=False) as session:
        session.runtime.prepare()
        try:
            report = session.runtime.invoke_now(args.name, at=args.time)
        except UnknownFunctionError as error:
            raise UsageError(str(error)) from None
    result = report.result
    if result.logs:
        sys.stderr.write(result.logs if result.logs.endswith("\n") else result.logs + "\n")
    if result.succeeded:
        print(json.dumps(result.payload, indent=2))
        return EXIT_OK
    print(
        f"{args.name} {result.outcome.value}: {result.error_type}: {result.error_message}",
        file=sys.stderr,
    )
    if result.traceback:
        print(result.traceback.rstrip(), file=sys.stderr)
    return EXIT_FUNCTION_ERROR


# -- replay and dlq ----------------------------------------------------------


def print_summary(what: str, summary: BatchSummary) -> int:
    counts = ", ".join(f"{count} {state.value}" for state, count in sorted(summary.states.items()))
    skipped = f" ({summary.already_done} had already succeeded)" if summary.already_done else ""
    print(f"{what}: {counts or 'nothing to run'}{skipped}")
    return EXIT_OK if summary.ok else EXIT_FUNCTION_ERROR


def cmd_replay(args: argparse.Namespace) -> int:
    if args.to <= args.start:
        raise UsageError(
            f"--to {args.to.isoformat()} must be after --from {args.start.isoformat()}"
        )
    logging.getLogger("localbridge.runs").setLevel(logging.WARNING)  # the bar shows progress
    options = {"fire_schedules": False, "overall_limit": args.concurrency}
    with stop_on_signals() as stop, open_session(args, SystemClock, **options) as session:
        runtime = session.runtime
        runtime.prepare()
        known = [f.name for f in runtime.functions()]
        unknown = sorted(set(args.names) - set(known))
        if unknown:
            raise UsageError(f"no scheduled function {unknown[0]!r} (known: {', '.join(known)})")
        summary = replay(runtime, args.names or known, args.start, args.to, stop)
        runtime.stop(args.grace)
    if stop.is_set():
        print("replay interrupted; run the same command again to continue", file=sys.stderr)
        return 130
    return print_summary("replay", summary)


def dead_ticks(ledger: Ledger, args: argparse.Namespace) -> list[Tick]:
    if getattr(args, "id", None) is not None:
        tick = ledger.get(args.id)
        if tick is None or tick.state is not TickState.DEAD:
            raise UsageError(f"no dead tick with id {args.id}; see `localbridge dlq list`")
        return [tick]
    return ledger.find(getattr(args, "name", None), TickState.DEAD)


def cmd_dlq_list(args: argparse.Namespace) -> int:
    if not args.ledger.exists():
        print(f"the dead-letter queue is empty (no ledger at {args.ledger} yet)")
        return EXIT_OK
    ledger = Ledger.open(args.ledger)
    try:
        ticks = ledger.find(args.name, TickState.DEAD)
        rows = [["id", "function", "scheduled", "attempts", "last error"]]
        for tick in ticks:
            attempts = ledger.attempts(tick.id)
            last = attempts[-1] if attempts else None
            error = (
                f"{last.error_type}: {last.error_message}"
                if last and last.error_type
                else "expired"
            )
            rows.append(
                [
                    str(tick.id),
                    tick.function,
                    display_instant(tick.scheduled_at),
                    str(tick.attempts),
                    error,
                ]
            )
    finally:
        ledger.close()
    print(table(rows) if ticks else "the dead-letter queue is empty")
    return EXIT_OK


def cmd_dlq_redrive(args: argparse.Namespace) -> int:
    with (
        stop_on_signals() as stop,
        open_session(args, SystemClock, fire_schedules=False) as session,
    ):
        ticks = dead_ticks(session.ledger, args)
        if not ticks:
            print("the dead-letter queue is empty: nothing to redrive")
            return EXIT_OK
        summary = redrive(session.runtime, ticks, stop)
        session.runtime.stop(args.grace)
    return print_summary("redrive", summary)


# -- runs and next -----------------------------------------------------------


def cmd_runs(args: argparse.Namespace) -> int:
    if not args.ledger.exists():
        raise UsageError(f"no ledger at {args.ledger}: nothing has run yet (or pass --ledger)")
    ledger = Ledger.open(args.ledger)
    try:
        ticks = ledger.find(args.name, args.state, args.since, args.limit)
        if args.json:
            print(json.dumps([tick_json(ledger, tick) for tick in ticks], indent=2))
            return EXIT_OK
        rows = [["id", "function", "scheduled", "state", "source", "attempts", "last outcome"]]
        for tick in ticks:
            attempts = ledger.attempts(tick.id)
            last = attempts[-1] if attempts else None
            outcome = "-" if last is None or last.outcome is None else last.outcome.value
            if last and last.error_type:
                outcome += f" ({last.error_type}: {last.error_message})"
            rows.append(
                [str(tick.id), tick.function, display_instant(tick.scheduled_at), tick.state.value,
                 tick.source.value, str(tick.attempts), outcome]
            )  # fmt: skip
    finally:
        ledger.close()
    print(table(rows) if ticks else "no runs match")
    return EXIT_OK


def cmd_next(args: argparse.Namespace) -> int:
    after = args.after or datetime.now(UTC)
    try:
        schedule = parse_schedule(args.expression, anchor=after)
    except ScheduleError as error:
        raise UsageError(f"invalid schedule expression {args.expression!r}: {error}") from None
    for instant in schedule.next_fire_times(after, args.n):
        print(instant.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return EXIT_OK


# -- the parser --------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="localbridge", description="A local EventBridge for Chalice scheduled functions."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="fire every scheduled function on its schedule")
    add_project_options(run)
    run.add_argument("--clock-start", type=parse_time, help="start a virtual clock at this instant")
    run.add_argument(
        "--speed", type=positive_float, default=1.0, help="virtual clock speed (x real)"
    )
    run.add_argument("--grace", type=positive_float, default=DEFAULT_GRACE_S,
                     help="seconds runs in flight get to finish on stop")  # fmt: skip
    add_lambda_api_options(run)
    run.set_defaults(handler=lambda args: cmd_run(args, lambda_api_services))

    serve = commands.add_parser("serve", help="the Lambda Invoke API alone (no timer)")
    add_project_options(serve)
    add_lambda_api_options(serve)
    serve.add_argument("--grace", type=positive_float, default=DEFAULT_GRACE_S)
    serve.set_defaults(handler=cmd_serve, clock_start=None, speed=1.0)

    listing = commands.add_parser("list", help="the scheduled functions and their next fire times")
    add_project_options(listing)
    listing.set_defaults(handler=cmd_list)

    invoke = commands.add_parser("invoke", help="run one function now and print its payload")
    invoke.add_argument("name")
    invoke.add_argument(
        "--time", type=parse_time, help="the scheduled time to pretend (default: now)"
    )
    add_project_options(invoke)
    invoke.set_defaults(handler=cmd_invoke)

    replay_cmd = commands.add_parser("replay", help="run every scheduled instant in (from, to]")
    replay_cmd.add_argument("--from", dest="start", type=parse_time, required=True)
    replay_cmd.add_argument("--to", type=parse_time, required=True)
    replay_cmd.add_argument("names", nargs="*", metavar="NAME", help="functions (default: all)")
    replay_cmd.add_argument("--concurrency", type=positive_int, default=4)
    replay_cmd.add_argument("--grace", type=positive_float, default=DEFAULT_GRACE_S)
    add_project_options(replay_cmd)
    replay_cmd.set_defaults(handler=cmd_replay)

    next_cmd = commands.add_parser("next", help="the next fire times of a schedule expression")
    next_cmd.add_argument("expression")
    next_cmd.add_argument("--after", type=parse_time, help="default: now")
    next_cmd.add_argument("-n", type=positive_int, default=1, help="how many (default 1)")
    next_cmd.set_defaults(handler=cmd_next)

    runs = commands.add_parser("runs", help="the history of runs from the ledger")
    runs.add_argument("name", nargs="?")
    runs.add_argument("--state", type=TickState, choices=list(TickState))
    runs.add_argument("--since", type=parse_time)
    runs.add_argument("--limit", type=positive_int, default=50, help="latest N (default 50)")
    runs.add_argument("--json", action="store_true")
    add_ledger_option(runs)
    runs.set_defaults(handler=cmd_runs)

    dlq = commands.add_parser("dlq", help="the dead-letter queue")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    dlq_list = dlq_commands.add_parser("list", help="dead ticks")
    dlq_list.add_argument("name", nargs="?")
    add_ledger_option(dlq_list)
    dlq_list.set_defaults(handler=cmd_dlq_list)
    dlq_redrive = dlq_commands.add_parser("redrive", help="run dead ticks again")
    target = dlq_redrive.add_mutually_exclusive_group()
    target.add_argument("--id", type=int)
    target.add_argument("name", nargs="?")
    dlq_redrive.add_argument("--grace", type=positive_float, default=DEFAULT_GRACE_S)
    add_project_options(dlq_redrive)
    dlq_redrive.set_defaults(handler=cmd_dlq_redrive)
    return parser


def configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("localbridge")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose)
    try:
        code: int = args.handler(args)
        return code
    except (ConfigError, UsageError) as error:
        print(f"localbridge: {error}", file=sys.stderr)
        return EXIT_USAGE
