"""The commands that run functions: run, serve, invoke, replay; and list, next."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING

from localbridge.abc import Clock
from localbridge.cli.common import (
    EXIT_FUNCTION_ERROR,
    EXIT_OK,
    UsageError,
    make_clock,
    never_again,
    never_fires,
    print_summary,
    stop_on_signals,
)
from localbridge.cli.lambda_tools import read_event
from localbridge.cli.progress import ProgressBar
from localbridge.cli.report import already_done, next_fire, table
from localbridge.cli.session import load, open_session
from localbridge.clock import SystemClock
from localbridge.instants import display_instant, whole_seconds
from localbridge.lambda_api import DEFAULT_PORT
from localbridge.ledger.pauses import read_paused
from localbridge.ledger.snapshot import LedgerSnapshot
from localbridge.ledger.store import Ledger
from localbridge.project.config import parse_env_overrides
from localbridge.project.pending import PendingLoad
from localbridge.project.watch import SourceWatcher
from localbridge.schedules import ScheduleError, parse_schedule

if TYPE_CHECKING:
    from localbridge.abc import Service
    from localbridge.runtime.loop import Runtime

# -- run -------------------------------------------------------------------

ServiceFactory = Callable[[argparse.Namespace], Sequence["Service[Runtime]"]]


def describe_start(
    runtime: Runtime, clock: Clock, args: argparse.Namespace, found: LedgerSnapshot
) -> None:
    """The start banner: the clock, and per function what really fires next, from
    the ledger as ``found`` before the start (an earlier run's ticks are not fired again)."""
    from localbridge.runtime.resume import resume_points

    clock_end = runtime.gate.until
    speed = f" at {clock.speed:g}x" if clock.speed != 1 else ""
    until = "" if clock_end is None else f" until {display_instant(clock_end)}"
    print(
        f"localbridge: stage {args.stage}, {len(runtime.functions())} scheduled function(s), "
        f"clock from {display_instant(clock.started_at)}{speed}{until}, ledger {args.ledger}",
        flush=True,
    )
    functions = runtime.functions()
    paused = runtime.gate.pauses.paused()
    points = resume_points(
        functions, found.scheduled_states, clock.started_at, clock_end, paused, found.pruned_spans()
    )
    for function, point in zip(functions, points, strict=True):
        upcoming = next_fire(point, clock.started_at, clock_end)
        print(f"  {function.name:<32} {function.spec.expression:<24} {upcoming}", flush=True)
    summary = already_done(points)
    if summary is not None:
        print(summary, flush=True)


def lambda_api_services(args: argparse.Namespace) -> list[Service[Runtime]]:
    """The Lambda Invoke API beside the runtime (``--port``, default 3001).

    ``run`` goes on without it when the default port is busy; ``serve``, which
    is nothing but the API, and any explicit ``--port`` fail instead.
    """
    from localbridge.lambda_api.service import LambdaApiService

    port = DEFAULT_PORT if args.port is None else args.port
    required = args.port is not None or args.command == "serve"
    service = LambdaApiService(
        args.project.resolve(), args.stage, args.host, port, required, args.show_environment
    )
    return [service]


def prepare(services: Sequence[Service[Runtime]]) -> None:
    """What services can do before they start (``ConsoleService.prepare``: an import)."""
    for service in services:
        prepare_service = getattr(service, "prepare", None)
        if prepare_service is not None:
            prepare_service()


def serve_until_stopped(stop: threading.Event, clock: Clock, clock_end: datetime | None) -> None:
    """Wait for a stop, saying once when the clock passes ``--clock-end``."""
    # Bounded waits so signal handlers run promptly in the main thread.
    while not stop.wait(0.5):
        if clock_end is not None and clock.now() > clock_end:
            print(
                f"localbridge: the clock passed --clock-end {display_instant(clock_end)}; "
                "nothing scheduled after it fires. Ctrl-C stops.",
                flush=True,
            )
            clock_end = None


def cmd_run(
    args: argparse.Namespace,
    services: ServiceFactory | None = None,
    fire_schedules: bool = True,
    pending: PendingLoad | None = None,
) -> int:
    """``run`` (``serve``: no ``fire_schedules``); ``pending``: the app's discovery, begun."""
    # Services are made (and take their ports) before the clock starts: a busy
    # port fails here, and at --speed 172800 even a millisecond is minutes of
    # virtual time a rule created later would not fire for.
    began = datetime.now(UTC)
    # The app is imported in its subprocess while this process takes its ports,
    # imports the runtime and opens the ledger (open_session).
    if pending is None:
        pending = PendingLoad(args.project, args.stage, parse_env_overrides(args.env))
    try:
        started = list(services(args)) if services else []
    except BaseException:
        pending.close()
        raise
    # Signals first: a stop requested while starting up is honoured once running.
    clock_end = getattr(args, "clock_end", None)
    options = {"fire_schedules": fire_schedules, "fire_until": clock_end}
    with (
        stop_on_signals() as stop,
        open_session(
            args, partial(make_clock, args, began), pending, partial(prepare, started), **options
        ) as session,
    ):
        runtime = session.runtime
        clock = runtime.clock

        def reload() -> None:
            runtime.reload(load(args))

        # A fault (the ledger refused a write) stops everything as Ctrl-C does.
        runtime.faults.on_fault(stop.set)
        runtime.prepare()
        # What the ledger held before this run fires anything: the banner reads it
        # once the runs began, so saying what it found never delays the first fire.
        with LedgerSnapshot(runtime.ledger.path) as found:
            runtime.start()
            describe_start(runtime, clock, args, found)
        for service in started:
            service.start(runtime)
        watcher = SourceWatcher(args.project.resolve(), reload, baseline=pending.sources)
        watcher.start()
        serve_until_stopped(stop, clock, clock_end)
        cause = " on a fault" if runtime.faults.occurred.is_set() else ""
        print(f"localbridge: stopping{cause} (runs in flight get a grace period)", flush=True)
        watcher.stop()
        for service in reversed(started):
            service.stop()
        session.stopped_cleanly = runtime.stop(args.grace)
    runtime.faults.raise_if_any()
    return EXIT_OK


# -- list --------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> int:
    functions = load(args, in_process=True)  # one-shot: no second interpreter
    now = datetime.now(UTC)
    marks, states, paused = {}, {}, frozenset[str]()
    if args.ledger.exists():
        ledger = Ledger.open(args.ledger, check=True)
        marks, states = ledger.function_marks(), ledger.last_states()
        ledger.close()
        paused = read_paused(args.ledger)
    header = ["function", "expression", "description", "timeout", "next fire times", "last run"]
    rows = [[*header, "status"]]
    for spec in functions:
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
                upcoming or never_again(schedule, now),
                state.value if state else "-",
                "paused" if spec.name in paused else "active",
            ]
        )
    print(table(rows))
    return EXIT_OK


# -- invoke --------------------------------------------------------------------


def cmd_invoke(args: argparse.Namespace) -> int:
    """Run one function now; its log (with the traceback of a failure) goes to stderr."""
    event = None if args.event is None else read_event(args.event)
    with open_session(args, SystemClock, fire_schedules=False) as session:
        session.runtime.prepare()
        from localbridge.runtime.functions import UnknownFunctionError

        try:
            report = session.runtime.invoke_now(args.name, event, at=args.time)
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
    return EXIT_FUNCTION_ERROR


# -- replay ----------------------------------------------------------------


def _replay_progress(total: int) -> ProgressBar:
    return ProgressBar(total, "replay")


def cmd_replay(args: argparse.Namespace) -> int:
    if args.to <= args.start:
        raise UsageError(
            f"--to {display_instant(args.to)} must be after --from {display_instant(args.start)}"
        )
    from localbridge.runtime.replay import replay

    logging.getLogger("localbridge.runs").setLevel(logging.WARNING)  # the bar shows progress
    options = {"fire_schedules": False, "overall_limit": args.concurrency}
    with stop_on_signals() as stop, open_session(args, SystemClock, **options) as session:
        runtime = session.runtime
        runtime.prepare()
        known = [f.name for f in runtime.functions()]
        unknown = sorted(set(args.names) - set(known))
        if unknown:
            raise UsageError(f"no scheduled function {unknown[0]!r} (known: {', '.join(known)})")
        try:
            summary = replay(
                runtime, args.names or known, args.start, args.to, stop, _replay_progress
            )
        except Exception:
            if not runtime.faults.occurred.is_set():
                raise  # not the ledger's: a bug, with its traceback
        session.stopped_cleanly = runtime.stop(args.grace)
    runtime.faults.raise_if_any()
    if stop.is_set():
        print("replay interrupted; run the same command again to continue", file=sys.stderr)
        return 130
    return print_summary("replay", summary)


# -- next ------------------------------------------------------------------


def cmd_next(args: argparse.Namespace) -> int:
    after = args.after or datetime.now(UTC)
    try:
        schedule = parse_schedule(args.expression, anchor=after)
    except ScheduleError as error:
        raise UsageError(f"invalid schedule expression {args.expression!r}: {error}") from None
    instants = schedule.next_fire_times(after, args.n)
    if not instants:
        raise UsageError(never_fires(schedule, after))
    for instant in instants:
        print(whole_seconds(instant))
    if len(instants) < args.n:
        print(f"localbridge: {args.expression} fires no more after these", file=sys.stderr)
    return EXIT_OK
