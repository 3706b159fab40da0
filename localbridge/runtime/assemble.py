"""Put a runtime together: project, invoker, ledger, clock, events."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from localbridge.clock import Clock
from localbridge.events import AwsIdentity, scheduled_event
from localbridge.invokers.process import ProcessInvoker
from localbridge.invokers.thread import ThreadInvoker
from localbridge.ledger.store import Ledger
from localbridge.model import FunctionSpec, Invoker
from localbridge.runtime.dispatch import EventFactory
from localbridge.runtime.loop import ConfiguredFunction, Runtime


class Mode(enum.StrEnum):
    """How functions run: isolated warm worker processes (like Lambda) or threads."""

    PROCESS = "process"
    THREAD = "thread"


def make_invoker(mode: Mode, project_dir: Path) -> Invoker:
    if mode is Mode.THREAD:
        return ThreadInvoker(project_dir)
    return ProcessInvoker(project_dir)


@runtime_checkable
class Warmable(Protocol):
    def warm(self, functions: Iterable[FunctionSpec]) -> None: ...


def warm(invoker: Invoker, functions: Sequence[FunctionSpec]) -> None:
    """Start workers (or import handlers) now, so first runs are not late."""
    if isinstance(invoker, Warmable):
        invoker.warm(functions)


def make_event_factory(identity: AwsIdentity | None = None) -> EventFactory:
    """Scheduled events for the account and region of the environment."""
    chosen = identity or AwsIdentity.from_environment()

    def build(function: FunctionSpec, instant: datetime) -> dict[str, Any]:
        return scheduled_event(function, instant, chosen)

    return build


def make_runtime(
    functions: Sequence[ConfiguredFunction],
    ledger: Ledger,
    invoker: Invoker,
    clock: Clock,
    **options: Any,
) -> Runtime:
    return Runtime(ledger, invoker, clock, functions, make_event_factory(), **options)
