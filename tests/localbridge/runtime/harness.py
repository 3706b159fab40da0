"""A runtime on a throwaway Chalice project, a ManualClock and a real ledger file."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localbridge.abc import Clock
from localbridge.clock import ManualClock
from localbridge.ledger.store import Ledger
from localbridge.project.loading import load_functions
from localbridge.runtime.assemble import Mode, make_invoker, make_runtime
from localbridge.runtime.loop import Runtime
from localbridge.ticks import Attempt, Tick, TickState
from tests.support import PROCESS_START_S, wait_for

T0 = datetime(2022, 12, 19, 0, 0, 30, tzinfo=UTC)
"""Half a minute before the first every-minute tick of the tests."""

HEADER = """\
import os
import signal
import threading
import time
from pathlib import Path

from chalice import Chalice, Cron, Rate

app = Chalice(app_name="rt")
"""

EVERY_MINUTE = """
@app.schedule(Cron("*", "*", "*", "*", "?", "*"))
def every_minute(event):
    return {"time": event.time}
"""

RAISES = """
@app.schedule(Cron("*", "*", "*", "*", "?", "*"))
def raises(event):
    raise RuntimeError("failed at " + event.time)
"""

# Fails while the file named by FAIL_FLAG exists: an outage the test controls.
FLAKY = """
@app.schedule(Cron("*", "*", "*", "*", "?", "*"))
def flaky(event):
    if Path(os.environ["FAIL_FLAG"]).exists():
        raise ConnectionError("results API unreachable")
    return {"time": event.time}
"""

HOURLY = """
@app.schedule(Cron(0, "*", "*", "*", "?", "*"))
def hourly(event):
    return {"time": event.time}
"""

# Blocks until the gate file exists; leaves a marker so tests see it started.
GATED = """
@app.schedule(Cron("*", "*", "*", "*", "?", "*"))
def gated(event):
    gate = Path(os.environ["GATE"])
    (gate.parent / ("started-" + event.time.replace(":", ""))).touch()
    while not gate.exists():
        time.sleep(0.01)
    return {"time": event.time}
"""

EXCEEDS_TIMEOUT = """
@app.schedule(Cron(0, "*", "*", "*", "?", "*"))
def exceeds_timeout(event):
    threading.Event().wait(60)
"""

KILLS_ITSELF = """
@app.schedule(Cron(0, "*", "*", "*", "?", "*"))
def kills_itself(event):
    os.kill(os.getpid(), signal.SIGKILL)
"""


def write_project(
    root: Path,
    *functions: str,
    localbridge: dict[str, Any] | None = None,
    environment: dict[str, str] | None = None,
    timeout_s: int = 5,
) -> Path:
    """A Chalice project whose app.py holds ``functions`` (source snippets)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "app.py").write_text(HEADER + "".join(textwrap.dedent(f) for f in functions))
    stage: dict[str, Any] = {"lambda_timeout": timeout_s}
    if environment:
        stage["environment_variables"] = environment
    if localbridge is not None:
        stage["localbridge"] = localbridge
    config = {"version": "2.0", "app_name": "rt", "stages": {"local": stage}}
    (root / ".chalice").mkdir(exist_ok=True)
    (root / ".chalice" / "config.json").write_text(json.dumps(config))
    return root


@contextmanager
def started_runtime(
    project: Path,
    ledger_path: Path,
    clock: Clock,
    mode: Mode = Mode.THREAD,
    start: bool = True,
    env: dict[str, str] | None = None,
    **options: Any,
) -> Iterator[Runtime]:
    """A runtime over the project; stopped, closed and its ledger closed afterwards."""
    functions = load_functions(project, "local", env or {})
    ledger = Ledger.open(ledger_path)
    invoker = make_invoker(mode, project)
    runtime = make_runtime(functions, ledger, invoker, clock, **options)
    try:
        if start:
            runtime.start()
        yield runtime
    finally:
        runtime.stop(grace=5)
        invoker.close()
        ledger.close()


def manual_clock(at: datetime = T0) -> ManualClock:
    return ManualClock(at)


def tick_states(ledger: Ledger, function: str) -> list[tuple[datetime, TickState]]:
    return [(t.scheduled_at, t.state) for t in ledger.find(function)]


def wait_for_state(
    ledger: Ledger,
    function: str,
    instant: datetime,
    state: TickState,
    timeout: float = PROCESS_START_S,
    attempts: int | None = None,
) -> Tick:
    """The tick once it is in ``state`` (after ``attempts`` attempts, when given).

    The default deadline lets a worker process start (process mode) before the run.
    """

    def reached() -> Tick | None:
        ticks = [t for t in ledger.find(function) if t.scheduled_at == instant]
        if not ticks or ticks[0].state is not state:
            return None
        return ticks[0] if attempts is None or ticks[0].attempts == attempts else None

    return wait_for(reached, timeout, what=f"{function} {instant} to be {state.value}")


def attempts_of(ledger: Ledger, function: str, instant: datetime) -> list[Attempt]:
    (tick,) = [t for t in ledger.find(function) if t.scheduled_at == instant]
    return ledger.attempts(tick.id)
