"""The console in a real browser during a real ``localbridge run`` on a virtual clock.

The shipped jobs run against a real results API. The registrations file is
missing at first, so the first runs fail and are dead-lettered; once it is
in place, "Redrive all" on /dlq runs them again and the week-50 average
appears on /results. "Pause" on / stops a function's runs while the clock
goes on.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from functions import job_modules
from localbridge.ledger.store import Ledger
from localbridge.ticks import TickState
from tests.conftest import ResultsApi
from tests.localbridge.console.browser import browser_page
from tests.localbridge.real_jobs import copy_project, job_env, registrations_db
from tests.support import Process, free_port, http_ok, running, start_process, wait_for

pytestmark = pytest.mark.shipped_jobs("average_weight_last_week", "registrations_per_day")

SPEED = "14400"  # four virtual hours a second: a day's run every 6 s


@dataclass
class LiveRun:
    url: str
    process: Process
    ledger: Path
    data: Path
    data_ready: Path

    def ticks(self, function: str, state: TickState | None = None) -> list[Any]:
        ledger = Ledger.open(self.ledger)
        try:
            return ledger.find(function, state)
        finally:
            ledger.close()

    def clock(self) -> datetime:
        text = requests.get(self.url + "index.json", timeout=10).json()["clock"]
        return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def live_run(tmp_path: Path, results_api: ResultsApi) -> Iterator[LiveRun]:
    project = copy_project(tmp_path / "project", {"defaults": {"maximum_retry_attempts": 0}})
    ready = registrations_db(tmp_path / "generated.db")
    data = tmp_path / "registrations.db"  # absent until the test puts it there
    port = free_port()
    ledger = tmp_path / "ledger.db"
    process = start_process(
        ["-m", "localbridge", "run", "--project", str(project), "--ledger", str(ledger),
         "--clock-start", "2022-12-18T23:59:00Z", "--speed", SPEED, "--port", "0",
         "--console-port", str(port), *job_env(data, results_api.url)],
        tmp_path / "run.log",
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    with running(process, lambda: http_ok(url), timeout=60):
        yield LiveRun(url, process, ledger, data, ready)


def test_a_person_watches_redrives_and_pauses_a_run(tmp_path: Path, live_run: LiveRun) -> None:
    dead = wait_for(lambda: live_run.ticks("average_weight_last_week", TickState.DEAD), 30,
                    "the weekly run to fail without its data")  # fmt: skip
    shutil.copy(live_run.data_ready, live_run.data)
    with browser_page(tmp_path / "profile") as page:
        see_the_functions(page, live_run)
        weekly_run = redrive_the_dead_letters(page, live_run, dead)
        see_week_50_on_the_chart(page, live_run, weekly_run)
        pause_and_resume_the_daily_function(page, live_run)


def see_the_functions(page: Any, live_run: LiveRun) -> None:
    page.goto(live_run.url)
    rows = page.locator("#live tbody tr")
    assert rows.count() == len(job_modules())  # one row per scheduled function
    weekly = rows.filter(has_text="average_weight_last_week")
    assert "cron(0 1 ? * MON *)" in weekly.inner_text()
    assert "At 01:00, only on Monday" in weekly.inner_text()
    assert "2022-12-26T01:00:00Z" in weekly.inner_text()  # the next Monday's fire


def redrive_the_dead_letters(page: Any, live_run: LiveRun, dead: list[Any]) -> list[Any]:
    """The dead letters, and a redrive that makes them succeed."""

    page.click("text=Dead letters")
    page.wait_for_selector(f'a[href="/runs/{dead[0].id}"]')
    assert "no such file; set REGISTRATIONS_DB" in page.inner_text("#live")
    page.click("text=Redrive all")
    page.wait_for_selector("text=the dead-letter queue is empty")
    weekly_run = wait_for(
        lambda: live_run.ticks("average_weight_last_week", TickState.SUCCEEDED), 30,
        "the redriven weekly run to succeed")  # fmt: skip
    page.goto(f"{live_run.url}runs/{weekly_run[0].id}")
    payload = page.locator("pre.payload").inner_text()
    assert json.loads(payload)["week"] == "2022-W50"  # the run's output, as shown
    return weekly_run


def see_week_50_on_the_chart(page: Any, live_run: LiveRun, weekly_run: list[Any]) -> None:
    """The week-50 value on the chart, linked back to its run."""
    page.click("text=Results")
    chart = page.locator("#metric-average_weight svg")
    chart.wait_for()
    assert "2022-W50" in chart.inner_html()
    assert ">2,575.76<" in chart.inner_html()
    page.locator("#metric-average_weight svg a").first.click()
    page.wait_for_url(re.compile(rf"/runs/{weekly_run[0].id}$"))


def pause_and_resume_the_daily_function(page: Any, live_run: LiveRun) -> None:
    """Pause: the daily function's runs stop while the clock goes on; no catch-up."""
    page.goto(live_run.url)
    daily_row = page.locator("#live tbody tr", has_text="registrations_per_day")
    daily_row.get_by_role("button", name="Pause").click()
    page.locator("#live tbody tr", has_text="registrations_per_day").get_by_text(
        "paused", exact=True
    ).wait_for()
    paused_at = live_run.clock()
    # Instants up to the pause; a row written ahead of the next instant (shortly
    # before it) may be there too, and is removed when that instant comes paused.
    before = len(
        [t for t in live_run.ticks("registrations_per_day") if t.scheduled_at <= paused_at]
    )
    # A day and an hour: at least one daily instant passes while paused.
    wait_for(lambda: live_run.clock() > paused_at + timedelta(days=1, hours=1), 30,
             "a virtual day to pass")  # fmt: skip
    assert len(live_run.ticks("registrations_per_day")) == before
    page.goto(f"{live_run.url}runs?function=registrations_per_day")
    assert page.locator("#live tbody tr").count() == before

    page.goto(live_run.url)
    page.locator("#live tbody tr", has_text="registrations_per_day").get_by_role(
        "button", name="Resume"
    ).click()
    wait_for(lambda: len(live_run.ticks("registrations_per_day")) > before, 30,
             "runs to start again after resume")  # fmt: skip
    # No catch-up: the first run after the resume is after the pause ended.
    resumed = live_run.ticks("registrations_per_day")[before]
    assert resumed.scheduled_at > paused_at + timedelta(days=1, hours=1)
