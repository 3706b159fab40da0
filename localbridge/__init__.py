"""localbridge: a local emulated EventBridge for Chalice scheduled functions.

The map, lowest layer first (a package imports only those above it in this
list, never one below):

- shared vocabulary, top-level modules: ``model`` (functions, invocations,
  outcomes), ``ticks`` (ticks, attempts, states), ``clock`` (the only "now"),
  ``instants`` (one way to read and write an instant), ``events`` (the event
  and context Lambda hands a function, ARNs), ``lambda_errors`` (Lambda's
  error wording), ``launch`` (running one of our modules in a new interpreter);
- ``schedules/``: EventBridge expressions, parsed once, evaluated exactly;
- ``project/``: the Chalice project's functions, stage config (read once) and
  settings, put together by ``project.loading.load_functions``;
- ``invokers/``: running a handler as Lambda does (thread or worker process);
- ``ledger/``: every tick and attempt, durably, in SQLite;
- ``runtime/``: the loop, dispatch, retries, catch-up, replay;
- ``lambda_api/``: the Lambda Invoke API that ``chalice invoke`` calls;
- ``console/``: the web console and Prometheus metrics of ``run``;
- ``cli/``: the ``localbridge`` command.

The path of one scheduled time T, from the clock to the results API:
``project`` discovers ``@bp.schedule(Cron(...))`` functions and
``schedules.parse_schedule`` turns each expression into a ``Schedule``. The
``runtime.loop.Runtime`` keeps a heap of each function's next instant T and
waits for it on the ``Clock``; at T it records the tick (function, T) in the
``Ledger`` and hands it to ``runtime.dispatch``, which builds the EventBridge
event ``{"time": T, ...}`` (``events.make_event_factory``) and calls the
``Invoker``. The invoker runs the handler string exactly as Lambda does; the
job reads T from the event, queries SQLite and posts its result with
``Idempotency-Key: <function>/<T>`` to the results API. The outcome goes back
to the ledger (``runtime.outcomes``), ``runtime.retries`` decides a retry or
a dead letter, and ``runtime.runlog`` writes the run's one log line.

The tests keep this map true: ``tests/localbridge/test_layering.py`` fails
when a module imports one of a higher layer.

Public API: ``parse_schedule``, ``ScheduleError``, ``Schedule``, ``Runtime``
and the clocks (``SystemClock``, ``VirtualClock``, ``ManualClock``). This file
stays light, because every worker process and every command imports it
(``localbridge list`` and ``run`` before anything else): each public name is
loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from localbridge.clock import ManualClock, SystemClock, VirtualClock
    from localbridge.runtime.loop import Runtime
    from localbridge.schedules import Schedule, ScheduleError, parse_schedule

__all__ = [
    "ManualClock",
    "Runtime",
    "Schedule",
    "ScheduleError",
    "SystemClock",
    "VirtualClock",
    "parse_schedule",
]

_LAZY = {
    "parse_schedule": "localbridge.schedules",
    "Schedule": "localbridge.schedules",
    "ScheduleError": "localbridge.schedules",
    "Runtime": "localbridge.runtime.loop",
    "SystemClock": "localbridge.clock",
    "VirtualClock": "localbridge.clock",
    "ManualClock": "localbridge.clock",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'localbridge' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
