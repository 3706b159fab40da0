"""Hot reload: code edits reach a running ``localbridge run`` without a restart."""

from __future__ import annotations

import json
import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from localbridge.ledger.store import Ledger
from localbridge.project.watch import SourceWatcher, snapshot
from localbridge.ticks import TickState
from tests.localbridge.runtime.harness import EVERY_MINUTE, write_project
from tests.support import PROCESS_START_S, start_process, virtual_deadline, wait_for

VERSION_2 = """
@app.schedule(Cron("*", "*", "*", "*", "?", "*"))
def every_minute(event):
    return {"time": event.time, "version": 2}
"""


def test_the_watcher_notices_an_edit_to_a_function_module(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    (project / "functions").mkdir()
    (project / "functions" / "job.py").write_text("X = 1\n")
    changes = threading.Event()
    watcher = SourceWatcher(project, changes.set, interval=0.02)
    watcher.start()
    try:
        (project / "functions" / "job.py").write_text("X = 2  # edited\n")
        wait_for(changes.is_set, what="the watcher to notice the edit")
    finally:
        watcher.stop()


def test_an_edit_made_while_the_app_loaded_counts_as_a_change(tmp_path: Path) -> None:
    """``run`` starts its watcher after the first tick may have fired; an edit made
    between reading the app and that moment must still reload it."""
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    as_loaded = snapshot(project)
    app = project / "app.py"
    app.write_text(app.read_text() + "# edited while loading\n")
    os.utime(app, ns=(as_loaded[app] + 10**9, as_loaded[app] + 10**9))
    changes = threading.Event()
    watcher = SourceWatcher(project, changes.set, interval=0.02, baseline=as_loaded)
    watcher.start()
    try:
        wait_for(changes.is_set, what="the watcher to notice the earlier edit")
    finally:
        watcher.stop()


def payloads(ledger_path: Path) -> list[dict[str, object]]:
    ledger = Ledger.open(ledger_path)
    try:
        found = []
        for tick in ledger.find("every_minute", TickState.SUCCEEDED):
            found += [json.loads(a.payload) for a in ledger.attempts(tick.id) if a.payload]
        return found
    finally:
        ledger.close()


@pytest.mark.slow
def test_a_running_run_serves_edited_code(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", EVERY_MINUTE)
    ledger = tmp_path / "l.db"
    command = ["-m", "localbridge", "run", "--project", str(project), "--ledger", str(ledger),
               "--clock-start", "2022-12-19T00:00:00Z", "--speed", "30"]  # fmt: skip
    process = start_process(command, tmp_path / "run.log")
    try:
        # The first minute of the clock at 30x is 2 s of real time after the start.
        first_run = virtual_deadline(timedelta(minutes=1), 30)
        wait_for(lambda: payloads(ledger), first_run, what="a first run on the old code")
        write_project(project, VERSION_2)
        wait_for(lambda: "reloaded" in process.log(), PROCESS_START_S, what="the reload")
        wait_for(
            lambda: any(p.get("version") == 2 for p in payloads(ledger)),
            timeout=virtual_deadline(timedelta(minutes=1), 30),
            what="a run on the new code",
        )
    finally:
        assert process.stop() == 0, process.log()
