"""The event of every run is kept in the ledger and shown on its run page.

Real ``localbridge replay``, ``run`` and ``console`` processes over a ledger
file: replayed ticks, retried ones and ticks caught up after a gap keep the
event EventBridge would have sent at their instant, with one id for every
attempt, and the run page shows it.
"""

from __future__ import annotations

import contextlib
import html
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from localbridge.instants import display_instant
from localbridge.ticks import TickState
from tests.localbridge.cli.test_cli import localbridge
from tests.localbridge.console.support import PRINTS, console_over
from tests.localbridge.runtime.harness import HOURLY, wait_for_state, write_project
from tests.support import PROCESS_START_S, free_port, http_ok, running, start_process, wait_for

RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/rt-local-hourly-event"

# Fails the first attempt of each instant; every attempt notes the event id it got.
FAILS_FIRST_ATTEMPT = """
@app.schedule(Cron(0, "*", "*", "*", "?", "*"))
def hourly(event):
    seen = Path(os.environ["SEEN"])
    with seen.open("a") as notes:
        notes.write(event.to_dict()["id"] + " " + event.time + "\\n")
    tried = seen.parent / ("tried-" + event.time.replace(":", ""))
    if not tried.exists():
        tried.touch()
        raise ConnectionError("results API unreachable")
    return {"time": event.time}
"""

HOUR = timedelta(hours=1)
MIDNIGHT = datetime(2022, 12, 19, tzinfo=UTC)


def kept_events(ledger: Path) -> dict[str, tuple[int, str | None, dict[str, Any] | None]]:
    """Per scheduled instant: (tick id, its event id, the event the ledger keeps)."""
    with contextlib.closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT id, scheduled_at, event_id, event FROM ticks").fetchall()
    return {
        display_instant(datetime.fromisoformat(at)): (
            tick_id,
            event_id,
            None if event is None else json.loads(event),
        )
        for tick_id, at, event_id, event in rows
    }


def event_on_page(url: str, tick_id: int) -> str:
    """The run page's event section, unescaped."""
    page = requests.get(f"{url}/runs/{tick_id}", timeout=10)
    assert page.status_code == 200, page.text
    assert "<h3>Event</h3>" in page.text, "the run page shows the event the ledger keeps"
    return html.unescape(page.text.split('<pre class="event">', 1)[1].split("</pre>", 1)[0])


def assert_scheduled_event(event: dict[str, Any] | None, instant: str, event_id: str) -> None:
    assert event is not None, f"the tick of {instant} keeps its event"
    assert event["time"] == instant
    assert event["id"] == event_id
    assert event["detail-type"] == "Scheduled Event"
    assert event["resources"] == [RULE_ARN]


def test_a_replay_keeps_each_runs_event_with_one_id_across_its_retries(tmp_path: Path) -> None:
    seen = tmp_path / "seen.txt"
    project = write_project(tmp_path / "p", FAILS_FIRST_ATTEMPT, environment={"SEEN": str(seen)})
    done = localbridge(
        "replay", "--from", "2022-12-19T00:00:00Z", "--to", "2022-12-19T03:00:00Z",
        "--retry-delay", "0.05", "--ledger", "l.db", "--mode", "thread", cwd=project,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    kept = kept_events(project / "l.db")
    instants = [display_instant(MIDNIGHT + n * HOUR) for n in (1, 2, 3)]
    assert sorted(kept) == instants
    for instant in instants:
        _, event_id, event = kept[instant]
        assert event_id is not None
        assert_scheduled_event(event, instant, event_id)
    # Each run's two attempts (a failure, its retry) were sent that same event.
    attempts = sorted(line.split() for line in seen.read_text().splitlines())
    expected = sorted([kept[instant][1], instant] for instant in instants for _ in (1, 2))
    assert attempts == expected

    port = free_port()
    console = start_process(
        ["-m", "localbridge", "console", "--ledger", str(project / "l.db"),
         "--console-port", str(port)], tmp_path / "console.log", cwd=tmp_path,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with running(console, lambda: http_ok(url + "/")):
        for instant in instants:
            tick_id, event_id, event = kept[instant]
            shown = event_on_page(url, tick_id)
            assert f'"time": "{instant}"' in shown
            assert f'"id": "{event_id}"' in shown
            twin = requests.get(f"{url}/runs/{tick_id}.json", timeout=10).json()
            assert twin["event"] == event


def start_run(project: Path, clock_start: str, console_port: int, name: str) -> Any:
    """``run`` whose clock starts (and stops firing) at ``clock_start``: it runs only
    what it catches up."""
    args = ["-m", "localbridge", "run", "--clock-start", clock_start, "--clock-end",
            clock_start, "--ledger", "l.db", "--mode", "thread", "--port", "0",
            "--console-port", str(console_port)]  # fmt: skip
    return start_process(args, project / name, cwd=project)


def marks_recorded(ledger: Path) -> bool:
    if not ledger.exists():
        return False
    with contextlib.closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)) as db:
        try:
            return int(db.execute("SELECT count(*) FROM functions").fetchone()[0]) > 0
        except sqlite3.OperationalError:  # not created yet
            return False


def succeeded(ledger: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)) as db:
        return int(db.execute("SELECT count(*) FROM ticks WHERE state = 'succeeded'").fetchone()[0])


def test_ticks_caught_up_after_a_gap_keep_their_events(tmp_path: Path) -> None:
    settings = {"defaults": {"catch_up": "all"}}
    project = write_project(tmp_path / "p", HOURLY, localbridge=settings)
    ledger = project / "l.db"
    first = start_run(project, "2022-12-19T00:00:50Z", free_port(), "run-1.log")
    wait_for(
        lambda: not first.alive() or marks_recorded(ledger),
        PROCESS_START_S,
        what="the first run to record its function",
    )
    assert first.stop() == 0, first.log()

    # Back three hours later: 01:00, 02:00 and 03:00 were missed.
    port = free_port()
    second = start_run(project, "2022-12-19T03:00:50Z", port, "run-2.log")
    url = f"http://127.0.0.1:{port}"
    with running(second, lambda: http_ok(url + "/")):
        wait_for(
            lambda: not second.alive() or succeeded(ledger) == 3,
            PROCESS_START_S,
            what="the catch-up",
        )
        kept = kept_events(ledger)
        instants = [display_instant(MIDNIGHT + n * HOUR) for n in (1, 2, 3)]
        assert sorted(kept) == instants
        for instant in instants:
            tick_id, event_id, event = kept[instant]
            assert event_id is not None
            assert_scheduled_event(event, instant, event_id)
            assert f'"time": "{instant}"' in event_on_page(url, tick_id)


def test_an_invoke_without_a_payload_shows_the_event_it_was_sent(tmp_path: Path) -> None:
    with console_over(tmp_path, PRINTS) as console:
        answer = console.act("/actions/invoke", function="prints")
        assert answer.status_code == 303
        tick_id = int(answer.headers["Location"].removeprefix("/runs/"))

        def finished() -> bool:
            tick = console.ledger.get(tick_id)
            return tick is not None and tick.state is TickState.SUCCEEDED

        wait_for(finished, 20, "the invoked run to succeed")
        tick = console.ledger.get(tick_id)
        assert tick is not None
        assert tick.event is None  # made as it ran, from its instant
        run = console.get(f"/runs/{tick_id}.json").json()
        assert run["event_kept"] is False
        assert run["event"]["id"] == tick.event_id
        # The event shown is the one the function got: it printed its time.
        assert f"counting rows for {run['event']['time']}" in run["attempts"][0]["logs"]
        page = html.unescape(console.get(f"/runs/{tick_id}").text)
        assert f'"time": "{run["event"]["time"]}"' in page


# Fails while FAIL_FLAG exists; notes the id of each event it is sent.
NOTES_IDS = """
@app.schedule(Cron(30, 0, "*", "*", "?", "*"))
def notes_ids(event):
    with Path(os.environ["SEEN"]).open("a") as notes:
        notes.write(event.to_dict()["id"] + "\\n")
    if Path(os.environ["FAIL_FLAG"]).exists():
        raise ConnectionError("results API unreachable")
    return {"time": event.time}
"""


def test_a_redriven_dead_letter_is_sent_the_event_it_kept(tmp_path: Path) -> None:
    flag, seen = tmp_path / "failing", tmp_path / "seen.txt"
    flag.touch()
    env = {"FAIL_FLAG": str(flag), "SEEN": str(seen)}
    with console_over(tmp_path, NOTES_IDS, env=env) as console:
        half_past = MIDNIGHT + timedelta(minutes=30)
        console.clock.advance(timedelta(minutes=30))
        dead = wait_for_state(console.ledger, "notes_ids", half_past, TickState.DEAD)
        assert dead.event is not None  # a scheduled tick keeps its event from the start
        flag.unlink()
        assert console.act("/actions/redrive", id=str(dead.id)).status_code == 303
        redriven = wait_for_state(
            console.ledger, "notes_ids", half_past, TickState.SUCCEEDED, attempts=2
        )
        assert redriven.event == dead.event
        assert seen.read_text().split() == [dead.event["id"]] * 2
        shown = event_on_page(console.url.rstrip("/"), dead.id)
        assert f'"time": "{display_instant(half_past)}"' in shown
