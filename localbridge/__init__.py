"""localbridge: a local emulated EventBridge for Chalice scheduled functions.

The map, lowest layer first (a package imports only those above it in this
list, never one below):

- shared vocabulary, top-level modules: ``abc`` (every role's contract:
  ``Clock``, ``EventFactory``, ``Invoker``, ``RunRecorder``, ``InvokeBackend``,
  ``Service``, ``Progress``), ``model`` (functions, invocations, outcomes),
  ``ticks`` (ticks, attempts, fires, states), ``clock`` (the only "now"),
  ``instants`` (one way to read and write an instant), ``events`` (the event
  and context Lambda hands a function, ARNs), ``lambda_errors`` (Lambda's
  error wording), ``launch`` (running one of our modules in a new interpreter);
- ``schedules/``: EventBridge expressions, parsed once, evaluated exactly;
- ``project/``: the Chalice project's functions, stage config (read once) and
  settings, put together by ``project.loading.load_functions``;
- ``invokers/``: running a handler as Lambda does (thread or worker process);
- ``ledger/``: every tick and attempt, durably, in SQLite (``ledger.runs``
  records a run, from its tick to its outcome);
- ``runtime/``: the loop, firing, dispatch, settling, retries, catch-up, replay;
- ``lambda_api/``: the Lambda Invoke API that ``chalice invoke`` calls;
- ``console/``: the web console and Prometheus metrics of ``run``;
- ``cli/``: the ``localbridge`` command.

The path of one scheduled time T, from the clock to the results API:
``project`` discovers ``@bp.schedule(Cron(...))`` functions and
``schedules.parse_schedule`` turns each expression into a ``Schedule``. The
``runtime.loop.Runtime`` keeps a heap of each function's next instant T.
Shortly before T it arms it (``runtime.firing``): the tick (function, T) is
written to the ledger as ``pending`` and its EventBridge event ``{"time": T,
...}`` is built. It waits on the ``Clock`` for T, then fires: the
``runtime.dispatch.Dispatcher`` hands the tick and its event to a worker
thread, which calls the ``Invoker``. The invoker runs the handler string
exactly as Lambda does; the job reads T from the event, queries SQLite and
posts its result with ``Idempotency-Key: <function>/<T>`` to the results
API. The run's report (its outcome, and what ``runtime.retries`` decided:
done, a retry, a dead letter) flows on through the dispatcher's ``done``
queue to the settler (``runtime.settle``), which records the fire and the
outcome in one commit (``ledger.runs``), writes the run's log line
(``runtime.runlog``), tells the listeners and hands a retry back to the loop.

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
