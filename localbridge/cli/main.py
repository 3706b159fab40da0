"""``python -m localbridge``: run, list, invoke, replay, next, runs, dlq, prune, stats, console,
pause, resume, logs, generate-event.

Exit codes: 0 ok, 1 a function failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse
import logging
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from localbridge.cli import commands as handlers
from localbridge.cli.common import (
    DEFAULT_GRACE_S,
    EXIT_USAGE,
    OneLineParser,
    UsageError,
    add_lambda_api_options,
    add_ledger_option,
    add_project_location,
    add_project_options,
    add_retry_options,
    parse_time,
    port_number,
    positive_float,
    positive_int,
)
from localbridge.console import DEFAULT_HOST as CONSOLE_HOST
from localbridge.console import DEFAULT_PORT as CONSOLE_PORT
from localbridge.events import ACCOUNT_VARIABLE, check_account_id
from localbridge.ledger.opening import LedgerError, describe
from localbridge.ledger.owners import LedgerBusyError
from localbridge.project.config import ConfigError
from localbridge.runtime.faults import RuntimeFaultError
from localbridge.ticks import TickState

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    # Every subcommand's parser is made by the same class: one-line errors everywhere.
    parser = OneLineParser(
        prog="localbridge", description="A local EventBridge for Chalice scheduled functions."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_running_commands(commands)
    add_one_off_commands(commands)
    add_history_commands(commands)
    add_lambda_commands(commands)
    return parser


Commands = Any
"""What ``add_subparsers`` returns (argparse's private ``_SubParsersAction``)."""


def add_max_workers_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-workers",
        type=positive_int,
        help="worker processes alive at once in process mode, runs beyond wait (default 32)",
    )


def add_running_commands(commands: Commands) -> None:
    """run and serve: the long-running ones."""
    run = commands.add_parser("run", help="fire every scheduled function on its schedule")
    add_project_options(run)
    run.add_argument("--clock-start", type=parse_time, help="start a virtual clock at this instant")
    run.add_argument(
        "--speed", type=positive_float, default=1.0, help="virtual clock speed (x real)"
    )
    run.add_argument("--grace", type=positive_float, default=DEFAULT_GRACE_S,
                     help="seconds runs in flight get to finish on stop")  # fmt: skip
    run.add_argument(
        "--clock-end",
        type=parse_time,
        help="fire nothing scheduled after this instant; the console stays up until Ctrl-C",
    )
    add_lambda_api_options(run)
    add_console_options(run, busy_default_skipped=True)
    add_max_workers_option(run)
    run.set_defaults(handler=handlers.run)

    console = commands.add_parser("console", help="the web console over a ledger (no timer)")
    add_ledger_option(console)
    add_console_options(console, busy_default_skipped=False)
    console.set_defaults(handler=handlers.console)
    add_pause_commands(commands)

    serve = commands.add_parser("serve", help="the Lambda Invoke API alone (no timer)")
    add_project_options(serve)
    add_lambda_api_options(serve)
    serve.add_argument("--grace", type=positive_float, default=DEFAULT_GRACE_S)
    add_max_workers_option(serve)
    serve.set_defaults(handler=handlers.serve, clock_start=None, speed=1.0)


def add_one_off_commands(commands: Commands) -> None:
    """list, invoke, replay, next: run once and exit."""

    listing = commands.add_parser("list", help="the scheduled functions and their next fire times")
    add_project_options(listing)
    listing.set_defaults(handler=handlers.listing)

    invoke = commands.add_parser("invoke", help="run one function now and print its payload")
    invoke.add_argument("name")
    invoke.add_argument(
        "--time", type=parse_time, help="the scheduled time to pretend (default: now)"
    )
    invoke.add_argument(
        "--event", metavar="FILE", help="deliver this event (a JSON file, or - for stdin)"
    )
    add_project_options(invoke)
    invoke.set_defaults(handler=handlers.invoke)

    replay_cmd = commands.add_parser("replay", help="run every scheduled instant in (from, to]")
    replay_cmd.add_argument("--from", dest="start", type=parse_time, required=True)
    replay_cmd.add_argument("--to", type=parse_time, required=True)
    replay_cmd.add_argument("names", nargs="*", metavar="NAME", help="functions (default: all)")
    replay_cmd.add_argument("--concurrency", type=positive_int, default=4)
    replay_cmd.add_argument("--grace", type=positive_float, default=DEFAULT_GRACE_S)
    add_max_workers_option(replay_cmd)
    add_retry_options(replay_cmd)
    add_project_options(replay_cmd)
    replay_cmd.set_defaults(handler=handlers.replay)

    next_cmd = commands.add_parser("next", help="the next fire times of a schedule expression")
    next_cmd.add_argument("expression")
    next_cmd.add_argument("--after", type=parse_time, help="default: now")
    next_cmd.add_argument("-n", type=positive_int, default=1, help="how many (default 1)")
    next_cmd.set_defaults(handler=handlers.next_fires)


def add_history_commands(commands: Commands) -> None:
    """runs and dlq: read (and redrive) the ledger's history."""

    runs = commands.add_parser("runs", help="the history of runs from the ledger")
    runs.add_argument("name", nargs="?")
    runs.add_argument("--state", choices=[state.value for state in TickState])
    runs.add_argument("--since", type=parse_time)
    runs.add_argument("--limit", type=positive_int, default=50, help="latest N (default 50)")
    runs.add_argument("--json", action="store_true")
    add_ledger_option(runs)
    add_name_check_options(runs)
    runs.set_defaults(handler=handlers.runs)

    dlq = commands.add_parser("dlq", help="the dead-letter queue")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    dlq_list = dlq_commands.add_parser("list", help="dead ticks")
    dlq_list.add_argument("name", nargs="?")
    add_ledger_option(dlq_list)
    add_name_check_options(dlq_list)
    dlq_list.set_defaults(handler=handlers.dlq_list)
    dlq_redrive = dlq_commands.add_parser("redrive", help="run dead ticks again")
    target = dlq_redrive.add_mutually_exclusive_group()
    target.add_argument("--id", type=int)
    target.add_argument("name", nargs="?")
    dlq_redrive.add_argument("--grace", type=positive_float, default=DEFAULT_GRACE_S)
    add_retry_options(dlq_redrive)
    add_project_options(dlq_redrive)
    dlq_redrive.set_defaults(handler=handlers.dlq_redrive)
    dlq_purge = dlq_commands.add_parser("purge", help="delete dead ticks for good")
    target = dlq_purge.add_mutually_exclusive_group()
    target.add_argument("--id", type=int)
    target.add_argument("name", nargs="?", help="every dead tick of this function")
    target.add_argument("--all", action="store_true", help="every dead tick")
    dlq_purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_ledger_option(dlq_purge)
    add_name_check_options(dlq_purge)
    dlq_purge.set_defaults(handler=handlers.dlq_purge)
    add_ledger_commands(commands)


def add_ledger_commands(commands: Commands) -> None:
    """prune and stats: the ledger's size on disk."""
    prune = commands.add_parser(
        "prune", help="remove finished runs scheduled before a time (dead letters stay)"
    )
    prune.add_argument("--before", type=parse_time, required=True, metavar="TIME")
    add_ledger_option(prune)
    prune.set_defaults(handler=handlers.prune)

    stats = commands.add_parser("stats", help="the ledger's size and what retention will remove")
    add_project_location(stats)
    stats.add_argument(
        "--before",
        type=parse_time,
        metavar="TIME",
        help="count instead what prune --before TIME removes",
    )
    add_ledger_option(stats)
    stats.set_defaults(handler=handlers.stats)


def add_name_check_options(parser: argparse.ArgumentParser) -> None:
    """Where a function NAME the ledger has not seen is looked for before it is refused."""
    add_project_location(parser)
    parser.set_defaults(env=[])


def add_console_options(parser: argparse.ArgumentParser, busy_default_skipped: bool) -> None:
    """``busy_default_skipped``: ``run`` goes on without the console when its default port
    is taken; ``console``, which is nothing but the console, fails instead."""
    busy = "skipped with a warning" if busy_default_skipped else "an error"
    parser.add_argument(
        "--console-port",
        type=port_number,
        default=None,
        help=f"port of the web console (default: {CONSOLE_PORT}; {busy} when "
        "the default is busy; 0 picks a free port)",
    )
    parser.add_argument(
        "--console-host", default=CONSOLE_HOST, help=f"address of the console ({CONSOLE_HOST})"
    )
    parser.add_argument(
        "--results-api",
        metavar="URL",
        help="the results API the console charts (default: the stage's RESULTS_API_URL)",
    )


def add_pause_commands(subcommands: Commands) -> None:
    for name, verb, handler in (
        ("pause", "stop firing (like disabling the rule); holds across restarts", handlers.pause),
        ("resume", "fire again from the next instant (no catch-up)", handlers.resume),
    ):
        command = subcommands.add_parser(name, help=verb)
        command.add_argument("names", nargs="*", metavar="NAME")
        command.add_argument("--all", action="store_true", help="every function")
        add_project_options(command)
        command.set_defaults(handler=handler)


def add_lambda_commands(subcommands: Commands) -> None:
    """logs and generate-event."""
    logs = subcommands.add_parser("logs", help="each run's log, as Lambda's log stream shows it")
    logs.add_argument("name", help="the function (its Chalice name)")
    logs.add_argument("--since", type=parse_time, help="only runs started at or after this")
    logs.add_argument("--follow", action="store_true", help="keep printing new runs' logs")
    logs.add_argument("--poll", type=positive_float, default=0.5, help=argparse.SUPPRESS)
    add_ledger_option(logs)
    add_name_check_options(logs)
    logs.set_defaults(handler=handlers.logs)

    generate = subcommands.add_parser(
        "generate-event", help="print the scheduled event EventBridge would send"
    )
    generate.add_argument("name", nargs="?", help="the function whose rule fires (optional)")
    generate.add_argument("--time", type=parse_time, help="the scheduled time (default: now)")
    add_project_options(generate)
    generate.set_defaults(handler=handlers.generate_event)


def configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    root = logging.getLogger("localbridge")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    args, left_over = build_parser().parse_known_args(argv)
    if left_over:
        args.command_parser.error(f"unrecognized arguments: {' '.join(left_over)}")
    configure_logging(args.verbose)
    account = os.environ.get(ACCOUNT_VARIABLE)
    problem = None if account is None else check_account_id(account)
    if problem is not None:
        print(f"localbridge: {ACCOUNT_VARIABLE}: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        code: int = args.handler(args)
        return code
    except (ConfigError, UsageError, LedgerBusyError, LedgerError, RuntimeFaultError) as error:
        print(f"localbridge: {error}", file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.Error as error:
        # The ledger opened, then failed (disk full, made read-only meanwhile).
        ledger = getattr(args, "ledger", None)
        where = Path("the ledger") if ledger is None else ledger
        print(f"localbridge: {describe(where, error)}", file=sys.stderr)
        return EXIT_USAGE
