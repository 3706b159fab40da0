"""The console's pages and JSON twins, over a real runtime, ledger file and HTTP server."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from localbridge import parse_schedule
from localbridge.ticks import TickState
from tests.localbridge.console.support import PRINTS, advance, console_over
from tests.localbridge.runtime.harness import EVERY_MINUTE, RAISES, wait_for_state

ONE_AM = datetime(2022, 12, 19, 1, 0, tzinfo=UTC)


def test_the_functions_page_lists_schedules_next_fires_and_last_runs(tmp_path: Path) -> None:
    with console_over(tmp_path, EVERY_MINUTE, PRINTS) as console:
        page = console.get("/")
        assert page.status_code == 200
        assert page.headers["Content-Type"].startswith("text/html")
        for shown in ("every_minute", "cron(* * * * ? *)", "prints", "cron(0 * * * ? *)"):
            assert shown in page.text
        assert "2022-12-19T00:01:00Z" in page.text  # every_minute's next fire
        assert "2022-12-19T01:00:00Z" in page.text  # prints' next fire

        advance(console, 1)
        wait_for_state(console.ledger, "every_minute", ONE_AM.replace(hour=0, minute=1),
                       TickState.SUCCEEDED)  # fmt: skip
        twin = console.get("/index.json").json()
        rows = {row["name"]: row for row in twin["functions"]}
        assert rows["every_minute"]["last_run"]["state"] == "succeeded"
        assert rows["every_minute"]["last_run"]["scheduled_at"] == "2022-12-19T00:01:00Z"
        assert rows["prints"]["last_run"] is None
        assert rows["prints"]["description"] == parse_schedule("cron(0 * * * ? *)").describe()
        assert rows["prints"]["next_fires"][:2] == ["2022-12-19T01:00:00Z", "2022-12-19T02:00:00Z"]
        assert twin["clock"] == "2022-12-19T00:01:30Z"


def test_a_run_page_shows_the_attempt_the_payload_and_what_the_function_printed(
    tmp_path: Path,
) -> None:
    with console_over(tmp_path, PRINTS) as console:
        advance(console, 60)
        tick = wait_for_state(console.ledger, "prints", ONE_AM, TickState.SUCCEEDED)
        page = console.get(f"/runs/{tick.id}")
        assert page.status_code == 200
        assert "counting rows for 2022-12-19T01:00:00Z" in page.text  # the logs
        assert "&#34;metric&#34;: &#34;rows&#34;" in page.text  # the payload, escaped
        assert "prints/2022-12-19T01:00:00Z" in page.text  # the idempotency key
        twin = console.get(f"/runs/{tick.id}.json").json()
        (attempt,) = twin["attempts"]
        assert attempt["outcome"] == "succeeded"
        # Framed as Lambda's log stream shows a run: START, the output, END, REPORT.
        start, printed, end, report = attempt["logs"].splitlines()
        assert printed == "counting rows for 2022-12-19T01:00:00Z"
        assert (start[:17], end[:15], report[:18]) == (
            "START RequestId: ",
            "END RequestId: ",
            "REPORT RequestId: ",
        )
        assert attempt["lateness_ms"] >= 0
        assert console.get("/runs/99999").status_code == 404


def test_a_failed_run_shows_its_error_and_traceback(tmp_path: Path) -> None:
    with console_over(tmp_path, RAISES) as console:
        advance(console, 1)
        minute = ONE_AM.replace(hour=0, minute=1)
        tick = wait_for_state(console.ledger, "raises", minute, TickState.DEAD)
        page = console.get(f"/runs/{tick.id}").text
        assert "RuntimeError: failed at 2022-12-19T00:01:00Z" in page
        assert "Traceback (most recent call last)" in page


def test_runs_are_newest_first_and_filter_by_function_state_source_and_period(
    tmp_path: Path,
) -> None:
    with console_over(tmp_path, EVERY_MINUTE, RAISES) as console:
        for minute in (1, 2, 3):
            advance(console, 1)
            at = ONE_AM.replace(hour=0, minute=minute)
            wait_for_state(console.ledger, "every_minute", at, TickState.SUCCEEDED)
            wait_for_state(console.ledger, "raises", at, TickState.DEAD)
        everything = console.get("/runs.json").json()["runs"]
        assert len(everything) == 6
        times = [run["scheduled_at"] for run in everything]
        assert times == sorted(times, reverse=True)

        def runs(query: str) -> list[tuple[str, str]]:
            found = console.get(f"/runs.json?{query}").json()["runs"]
            return [(run["function"], run["scheduled_at"][11:16]) for run in found]

        assert runs("function=raises") == [("raises", t) for t in ("00:03", "00:02", "00:01")]
        assert runs("state=succeeded&since=2022-12-19T00:02Z&until=2022-12-19T00:03Z") == [
            ("every_minute", "00:02")
        ]
        assert runs("source=replay") == []
        html = console.get("/runs?function=raises&state=dead").text
        assert html.count('<span class="state dead">dead</span>') == 3

        bad = console.get("/runs?state=sleeping")
        assert bad.status_code == 400
        assert "sleeping" in bad.text
        assert "succeeded" in bad.text  # names the states that exist
        assert console.get("/runs.json?since=yesterday").status_code == 400


def test_unknown_pages_are_404_naming_the_pages(tmp_path: Path) -> None:
    with console_over(tmp_path, EVERY_MINUTE) as console:
        missing = console.get("/nope")
        assert missing.status_code == 404
        assert "/runs" in missing.text
