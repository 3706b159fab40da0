"""Put a runtime together: project, invoker, ledger, clock, events."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from localbridge.abc import Clock, Invoker, Warmable
from localbridge.events import make_event_factory
from localbridge.invokers.process import DEFAULT_MAX_WORKERS, ProcessInvoker
from localbridge.invokers.thread import ThreadInvoker
from localbridge.ledger import Ledger
from localbridge.model import FunctionSpec
from localbridge.runtime.loop import Runtime


class Mode(enum.StrEnum):
    """How functions run: isolated warm worker processes (like Lambda) or threads."""

    PROCESS = "process"
    THREAD = "thread"


def make_invoker(mode: Mode, project_dir: Path, max_workers: int | None = None) -> Invoker:
    """``max_workers``: worker processes at once (None: ``DEFAULT_MAX_WORKERS``)."""
    if mode is Mode.THREAD:
        return ThreadInvoker(project_dir)
    return ProcessInvoker(project_dir, max_workers=max_workers or DEFAULT_MAX_WORKERS)


def close_within(invoker: Invoker, grace_s: float | None) -> None:
    """Close ``invoker``; runs still going in worker processes get ``grace_s`` (None:
    the invoker's default) before they are killed."""
    if isinstance(invoker, ProcessInvoker):
        invoker.close(grace_s)
    else:
        invoker.close()


def warm(invoker: Invoker, functions: Sequence[FunctionSpec]) -> None:
    """Start workers (or import handlers) now, so first runs are not late."""
    if isinstance(invoker, Warmable):
        invoker.warm(functions)


def make_runtime(
    functions: Sequence[FunctionSpec],
    ledger: Ledger,
    invoker: Invoker,
    clock: Clock,
    **options: Any,
) -> Runtime:
    return Runtime(ledger, invoker, clock, functions, make_event_factory(), **options)
