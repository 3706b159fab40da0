"""The runtime the running commands share (run, serve, invoke, replay, dlq redrive):
the project's functions, the ledger and the invoker, opened and closed together.

``load`` gives the project's functions with the command's retry options;
``open_session`` puts the runtime together. ``run`` starts discovering the
app first (``commands.start_load``) and hands the pending load over, so the
app is imported in its subprocess while this process imports the runtime,
opens the ledger and takes its ports.
"""

from __future__ import annotations

import argparse
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from localbridge.abc import Clock, Invoker
from localbridge.cli.common import UsageError
from localbridge.ledger.store import Ledger
from localbridge.model import MAX_EVENT_AGE, FunctionSpec
from localbridge.project.config import parse_env_overrides
from localbridge.project.loading import finish_load, load_functions
from localbridge.project.pending import PendingLoad

if TYPE_CHECKING:
    from localbridge.runtime.loop import Runtime


def load(args: argparse.Namespace, in_process: bool = False) -> list[FunctionSpec]:
    """The project's functions; ``in_process`` (one-shot commands) imports the app here."""
    overrides = parse_env_overrides(args.env)
    specs = load_functions(args.project, args.stage, overrides, in_process)
    return with_retry_options(args, specs)


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
    stopped_cleanly: bool = True
    """False when the runtime's stop left runs going after their grace: the
    invoker then stops them without another grace."""


@contextmanager
def open_session(
    args: argparse.Namespace,
    clock: Callable[[], Clock],
    pending: PendingLoad | None = None,
    meanwhile: Callable[[], object] | None = None,
    **options: Any,
) -> Iterator[Session]:
    """Load and warm everything first, then start the clock: a virtual clock
    must not run ahead while workers start.

    The ledger opens and the invoker is made while the app is discovered
    (``pending``, or a load begun here); the functions are awaited after that,
    with ``meanwhile`` running on a background thread during the wait (started
    only then, so it does not compete with this thread's own work first).
    """
    # The runtime's modules are imported here, while discovery runs, not
    # when the command line is parsed.
    from localbridge.runtime.assemble import Mode, close_within, make_invoker, make_runtime, warm

    if pending is None:
        pending = PendingLoad(args.project, args.stage, parse_env_overrides(args.env))
    with ExitStack() as stack:
        loading = stack.enter_context(pending)
        ledger = Ledger.open(args.ledger)
        session: Session | None = None

        def close_ledger() -> None:
            try:
                ledger.close()
            except sqlite3.Error:
                # After the runtime's fault the close fails the same way: the
                # fault's line (``RuntimeFaultError``) says it all.
                if session is None or not session.runtime.faults.occurred.is_set():
                    raise

        stack.callback(close_ledger)
        invoker = make_invoker(Mode(args.mode), args.project, getattr(args, "max_workers", None))

        def close_invoker() -> None:
            grace = getattr(args, "grace", None)
            stopped = session is None or session.stopped_cleanly
            close_within(invoker, grace if stopped else 0.0)

        stack.callback(close_invoker)
        if meanwhile is not None:
            threading.Thread(target=meanwhile, name="localbridge-meanwhile", daemon=True).start()
        functions = with_retry_options(args, finish_load(loading))
        warm(invoker, functions)
        runtime = make_runtime(functions, ledger, invoker, clock(), **options)
        session = Session(runtime, invoker, ledger)
        yield session
