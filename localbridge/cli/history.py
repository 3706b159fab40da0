"""The commands that read and act on the ledger's history: runs, dlq list/redrive/purge."""

from __future__ import annotations

import argparse
import json
import sys

from localbridge.cli.common import (
    EXIT_FUNCTION_ERROR,
    EXIT_OK,
    UsageError,
    print_summary,
    stop_on_signals,
)
from localbridge.cli.console import require_known_function
from localbridge.cli.report import table, tick_json
from localbridge.clock import SystemClock
from localbridge.instants import display_instant
from localbridge.ledger.connect import LedgerConnection
from localbridge.ledger.store import Ledger
from localbridge.ticks import Tick, TickState


def require_ledger(args: argparse.Namespace, otherwise: str = "nothing has run yet") -> None:
    """A ledger that is not there is a wrong ``--ledger`` as often as an empty history."""
    if not args.ledger.exists():
        raise UsageError(f"no ledger at {args.ledger}: {otherwise} (or pass --ledger)")


def cmd_runs(args: argparse.Namespace) -> int:
    require_ledger(args)
    ledger = Ledger.open(args.ledger, check=True)
    try:
        require_known_function(args, args.name)
        state = None if args.state is None else TickState(args.state)
        ticks = ledger.find(args.name, state, args.since, args.limit)
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


def dead_ticks(ledger: Ledger, args: argparse.Namespace) -> list[Tick]:
    if getattr(args, "id", None) is not None:
        tick = ledger.get(args.id)
        if tick is None or tick.state is not TickState.DEAD:
            raise UsageError(f"no dead tick with id {args.id}; see `localbridge dlq list`")
        return [tick]
    return ledger.find(getattr(args, "name", None), TickState.DEAD)


def cmd_dlq_list(args: argparse.Namespace) -> int:
    require_ledger(args)
    ledger = Ledger.open(args.ledger, check=True)
    try:
        require_known_function(args, args.name)
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
    # Only redrive runs functions: `runs` and `dlq list` need none of this.
    from localbridge.cli.session import open_session
    from localbridge.runtime.replay import redrive

    with (
        stop_on_signals() as stop,
        open_session(args, SystemClock, fire_schedules=False) as session,
    ):
        require_known_function(args, args.name)
        ticks = dead_ticks(session.ledger, args)
        if not ticks:
            print("the dead-letter queue is empty: nothing to redrive")
            return EXIT_OK
        session.runtime.prepare()  # registers the app's functions
        refuse_removed_functions(ticks, {f.name for f in session.runtime.functions()}, args)
        summary = redrive(session.runtime, ticks, stop)
        session.runtime.stop(args.grace)
    return print_summary("redrive", summary)


def refuse_removed_functions(ticks: list[Tick], known: set[str], args: argparse.Namespace) -> None:
    """A dead tick whose function left the app cannot run: say which, and how to drop it."""
    removed = [tick for tick in ticks if tick.function not in known]
    if not removed:
        return
    names = ", ".join(sorted({repr(tick.function) for tick in removed}))
    ids = " ".join(f"--id {tick.id}" if len(removed) == 1 else str(tick.id) for tick in removed)
    purge = (
        f"`localbridge dlq purge {ids}`"
        if len(removed) == 1
        else f"`localbridge dlq purge NAME` (ticks {ids})"
    )
    raise UsageError(
        f"cannot redrive: function {names} is no longer in the app (stage {args.stage}); "
        f"nothing was run. Put it back, or drop its dead ticks with {purge}"
    )


def cmd_dlq_purge(args: argparse.Namespace) -> int:
    if args.id is None and args.name is None and not args.all:
        raise UsageError("say what to purge: --id N, a function NAME, or --all")
    require_ledger(args, "nothing to purge")
    ledger = Ledger.open(args.ledger)
    try:
        require_known_function(args, args.name)
        ticks = dead_ticks(ledger, args)
        if not ticks:
            print("the dead-letter queue is empty: nothing to purge")
            return EXIT_OK
        what = f"{len(ticks)} dead tick(s) ({', '.join(sorted({t.function for t in ticks}))})"
        if not args.yes and not confirm(f"purge {what} for good? [y/N] "):
            print("nothing purged")
            return EXIT_FUNCTION_ERROR
        purged = ledger.purge(tick.id for tick in ticks)
    finally:
        ledger.close()
    print(f"purged {len(purged)} dead tick(s)")
    return EXIT_OK


def confirm(question: str) -> bool:
    print(question, end="", flush=True)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def cmd_prune(args: argparse.Namespace) -> int:
    """Remove the finished runs scheduled before ``--before``; give the space back."""
    from localbridge.ledger.owners import live_owners
    from localbridge.ledger.pruning import checkpoint, prune, size_of, vacuum

    connection = open_existing(args, "nothing to prune")
    try:
        with stop_on_signals() as stop:
            pruned = prune(connection, args.before, stop.is_set)
        note = ""
        if not size_of(connection).incremental and pruned.runs:
            with connection.transaction() as db:
                busy = bool(live_owners(db))
            if busy:
                note = (
                    "; this ledger predates incremental vacuum: its free pages are reused, and "
                    "`localbridge prune` with no `run` on it gives them back to the disk"
                )
            else:
                vacuum(connection)
        checkpoint(connection)
        after = size_of(connection).bytes
    finally:
        connection.close()
    print(
        f"pruned {pruned.runs} finished run(s) ({pruned.attempts} attempt(s)) scheduled before "
        f"{display_instant(args.before)}; the ledger went from {mib(pruned.bytes_before)} "
        f"to {mib(after)}{note}"
    )
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    """The ledger's size, its runs by state, and what retention will remove."""
    from datetime import UTC, datetime

    from localbridge.ledger.pruning import count_prunable, size_of
    from localbridge.project.config import read_stage_config
    from localbridge.project.settings import load_retention

    retention = load_retention(read_stage_config(args.project, args.stage))
    connection = open_existing(args, "nothing has run yet")
    try:
        size = size_of(connection)
        states = connection.query("SELECT state, count(*) FROM ticks GROUP BY state")
        cutoff = args.before or (None if retention is None else datetime.now(UTC) - retention)
        prunable = None if cutoff is None else count_prunable(connection, cutoff)
    finally:
        connection.close()
    wal = args.ledger.with_name(args.ledger.name + "-wal")
    wal_bytes = wal.stat().st_size if wal.exists() else 0
    rows = [
        ["ledger", str(args.ledger)],
        ["size", f"{mib(size.bytes)} ({mib(size.page_size * size.free_pages)} free), "
                 f"log {mib(wal_bytes)}"],
        ["runs", ", ".join(f"{count} {state}" for state, count in states) or "none"],
        ["retention", "keep everything" if retention is None else f"{retention.days} day(s)"
                      if not retention.seconds else str(retention)],
    ]  # fmt: skip
    if cutoff is not None and prunable is not None:
        rows.append(
            ["to prune", f"{prunable} finished run(s) scheduled before {display_instant(cutoff)}"]
        )
    print(table(rows))
    return EXIT_OK


def open_existing(args: argparse.Namespace, otherwise: str) -> LedgerConnection:
    require_ledger(args, otherwise)
    return LedgerConnection(args.ledger)


def mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"
