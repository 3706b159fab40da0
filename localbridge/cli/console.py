"""The commands of the console: ``console``, ``pause``, ``resume``; and the console
service ``run`` starts beside the runtime (``--console-port``, default 3000)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from localbridge.cli.common import EXIT_OK, UsageError, stop_on_signals
from localbridge.console import DEFAULT_PORT
from localbridge.ledger.browse import LedgerReader
from localbridge.ledger.pauses import PauseStore
from localbridge.project.config import ConfigError

if TYPE_CHECKING:
    from localbridge.abc import Service
    from localbridge.runtime.loop import Runtime


def console_services(args: argparse.Namespace) -> list[Service[Runtime]]:
    from localbridge.console.service import ConsoleService

    port = DEFAULT_PORT if args.console_port is None else args.console_port
    required = args.console_port is not None
    return [ConsoleService(args.console_host, port, required, args.results_api)]


def cmd_console(args: argparse.Namespace) -> int:
    """Browse a ledger (no timer, nothing runs) until Ctrl-C."""
    if not args.ledger.exists():
        raise UsageError(f"no ledger at {args.ledger}: nothing has run yet (or pass --ledger)")
    from localbridge.console.service import bind_server, serve_ledger

    port = DEFAULT_PORT if args.console_port is None else args.console_port
    server = bind_server(args.console_host, port, required=True)
    assert server is not None
    with stop_on_signals() as stop:
        close = serve_ledger(server, args.ledger, args.results_api)
        print(f"localbridge: console on {server.url} (ledger {args.ledger}); Ctrl-C stops it")
        while not stop.wait(0.5):
            pass
        close()
    return EXIT_OK


def known_functions(args: argparse.Namespace) -> list[str]:
    """The project's functions, and any other the ledger has seen."""
    from localbridge.cli.session import load

    try:
        names = {spec.name for spec in load(args)}
    except ConfigError:
        names = set()
    if args.ledger.exists():
        reader = LedgerReader(args.ledger)
        try:
            names |= {mark.name for mark in reader.function_marks()}
        finally:
            reader.close()
    return sorted(names)


def require_known_function(args: argparse.Namespace, name: str | None) -> None:
    """A NAME that neither the ledger nor the project knows is a typo: exit 2 saying so,
    rather than answer "nothing found" as if it were a function that has not run yet."""
    if name is None or seen_by_ledger(args, name):
        return
    known = known_functions(args)
    if name not in known:
        raise UsageError(f"no scheduled function {name!r} (known: {', '.join(known) or 'none'})")


def seen_by_ledger(args: argparse.Namespace, name: str) -> bool:
    """Whether the ledger holds a run or a schedule mark of ``name`` (no app import needed)."""
    if not args.ledger.exists():
        return False
    reader = LedgerReader(args.ledger)
    try:
        return name in {mark.name for mark in reader.function_marks()} or bool(
            reader.recent_marks(name, 1)
        )
    finally:
        reader.close()


def chosen_functions(args: argparse.Namespace) -> list[str]:
    known = known_functions(args)
    if args.all:
        if not known:
            raise UsageError("no functions known: run this in the project, or pass --project")
        return known
    if not args.names:
        raise UsageError("name the functions, or pass --all")
    unknown = sorted(set(args.names) - set(known))
    if unknown:
        raise UsageError(
            f"no scheduled function {unknown[0]!r} (known: {', '.join(known) or 'none'})"
        )
    return list(args.names)


def cmd_pause(args: argparse.Namespace) -> int:
    names = chosen_functions(args)
    store = PauseStore.open(args.ledger)
    try:
        changed = set(store.pause(names, datetime.now(UTC)))
    finally:
        store.close()
    for name in names:
        print(f"{name}: paused" + ("" if name in changed else " (already)"))
    return EXIT_OK


def cmd_resume(args: argparse.Namespace) -> int:
    names = chosen_functions(args)
    store = PauseStore.open(args.ledger)
    try:
        changed = set(store.resume(names))
    finally:
        store.close()
    for name in names:
        print(f"{name}: resumed" + ("" if name in changed else " (was not paused)"))
    return EXIT_OK
