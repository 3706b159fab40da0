"""``/functions/<name>``, the front page's run grid, keyset pages and the invoke and
replay forms, over a real runtime, ledger file and HTTP server."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from localbridge.ticks import TickSource, TickState
from tests.localbridge.console.support import ConsoleUnderTest, advance, console_over
from tests.localbridge.runtime.harness import EVERY_MINUTE, RAISES, wait_for_state
from tests.support import wait_for

MIDNIGHT = datetime(2022, 12, 19, 0, 0, tzinfo=UTC)


def run_minutes(console: ConsoleUnderTest, *names: str, minutes: int = 3) -> None:
    for minute in range(1, minutes + 1):
        advance(console, 1)
        at = MIDNIGHT.replace(minute=minute)
        for name in names:
            final = TickState.DEAD if name == "raises" else TickState.SUCCEEDED
            wait_for_state(console.ledger, name, at, final)


def test_a_function_page_shows_its_health_durations_runs_logs_and_dead_letters(
    tmp_path: Path,
) -> None:
    with console_over(tmp_path, EVERY_MINUTE, RAISES) as console:
        run_minutes(console, "every_minute", "raises")
        twin = console.get("/functions/every_minute.json").json()
        assert twin["function"]["expression"] == "cron(* * * * ? *)"
        assert twin["health"]["success_rate"] == 1.0
        assert [d["scheduled_at"][11:16] for d in twin["health"]["durations"]] == [
            "00:01", "00:02", "00:03",
        ]  # fmt: skip
        assert [r["function"] for r in twin["runs"]] == ["every_minute"] * 3
        assert twin["dead_letters"] == []
        assert twin["invoke_at"] == "2022-12-19T00:03:00Z"  # the latest scheduled instant
        page = console.get("/functions/every_minute").text
        durations = page[page.index('id="durations"') :]
        assert durations.count('<circle class="dot"') == 3  # the duration chart
        assert 'name="at" value="2022-12-19T00:03:00Z"' in page

        failing = console.get("/functions/raises.json").json()
        assert failing["health"]["success_rate"] == 0.0
        assert len(failing["dead_letters"]) == 3
        assert "RuntimeError: failed at 2022-12-19T00:03:00Z" in failing["last_logs"]

        missing = console.get("/functions/nope")
        assert missing.status_code == 404
        assert "no function nope" in missing.text


def test_the_front_page_has_a_run_grid_linking_each_run_and_the_next_ticks(
    tmp_path: Path,
) -> None:
    with console_over(tmp_path, EVERY_MINUTE, RAISES) as console:
        run_minutes(console, "every_minute", "raises", minutes=2)
        twin = console.get("/index.json").json()
        rows = {row["function"]: row["marks"] for row in twin["grid"]}
        assert [m["state"] for m in rows["raises"]] == ["dead", "dead"]
        assert [m["scheduled_at"][11:16] for m in rows["every_minute"]] == ["00:01", "00:02"]
        upcoming = [(u["at"][11:16], u["function"]) for u in twin["upcoming"]]
        assert upcoming[:2] == [("00:03", "every_minute"), ("00:03", "raises")]
        page = console.get("/").text
        for mark in rows["raises"]:
            assert f'<a class="mark dead" href="/runs/{mark["id"]}"' in page


def test_runs_come_in_keyset_pages_with_links_to_older_and_newer(tmp_path: Path) -> None:
    with console_over(tmp_path, EVERY_MINUTE) as console:
        run_minutes(console, "every_minute", minutes=5)
        first = console.get("/runs.json?limit=2").json()
        assert [r["scheduled_at"][11:16] for r in first["runs"]] == ["00:05", "00:04"]
        assert first["newer_after_id"] is None
        older = first["older_before_id"]
        second = console.get(f"/runs.json?limit=2&before_id={older}").json()
        assert [r["scheduled_at"][11:16] for r in second["runs"]] == ["00:03", "00:02"]
        back = console.get(f"/runs.json?limit=2&after_id={second['newer_after_id']}").json()
        assert back["runs"] == first["runs"]
        page = console.get(f"/runs?limit=2&before_id={older}").text
        links = dict(re.findall(r'rel="(prev|next)" href="([^"]+)"', page))
        assert "before_id=" in links["next"].replace("&amp;", "&")
        assert "after_id=" in links["prev"]
        function_runs = console.get("/functions/every_minute.json?limit=2").json()
        assert len(function_runs["runs"]) == 2
        assert function_runs["older_before_id"] is not None


def test_huge_numbers_in_query_parameters_answer_400(tmp_path: Path) -> None:
    with console_over(tmp_path, EVERY_MINUTE) as console:
        for path in (
            "/runs?before_id=99999999999999999999999",
            "/runs.json?after_id=9223372036854775808",
            "/runs?limit=99999999999999999999999",
            "/functions/every_minute?before_id=99999999999999999999999",
            "/results?before_id=99999999999999999999999",
        ):
            answer = console.get(path)
            assert answer.status_code == 400, path
            assert "must be" in answer.text
        assert console.get("/runs.json?before_id=9223372036854775807").status_code == 200


def test_invoke_at_a_chosen_time_or_with_a_payload_keeps_the_event(tmp_path: Path) -> None:
    with console_over(tmp_path, EVERY_MINUTE) as console:
        chosen = console.act("/actions/invoke", function="every_minute", at="2022-12-18T05:00Z")
        assert chosen.status_code == 303
        event = console.get(chosen.headers["Location"] + ".json").json()["event"]
        assert event["time"] == "2022-12-18T05:00:00Z"
        assert event["detail-type"] == "Scheduled Event"

        given = console.act("/actions/invoke", function="every_minute", payload='{"time": "x"}')
        assert console.get(given.headers["Location"] + ".json").json()["event"] == {"time": "x"}
        for bad in ("[1]", "{", '{"a": NaN}'):
            refused = console.act("/actions/invoke", function="every_minute", payload=bad)
            assert refused.status_code == 400, bad
        late = console.act("/actions/invoke", function="every_minute", at="yesterday")
        assert late.status_code == 400
        assert "ISO-8601" in late.text


def test_a_scheduled_run_keeps_the_event_it_was_sent(tmp_path: Path) -> None:
    with console_over(tmp_path, EVERY_MINUTE) as console:
        run_minutes(console, "every_minute", minutes=1)
        (run,) = console.get("/runs.json").json()["runs"]
        event = console.get(f"/runs/{run['id']}.json").json()["event"]
        assert event["time"] == "2022-12-19T00:01:00Z"
        assert ":rule/" in event["resources"][0]
        assert (
            "&#34;time&#34;: &#34;2022-12-19T00:01:00Z&#34;"
            in console.get(f"/runs/{run['id']}").text
        )


def test_replay_from_the_page_runs_a_window_once(tmp_path: Path) -> None:
    with console_over(tmp_path, EVERY_MINUTE) as console:
        fields = {"function": "every_minute", "since": "2022-12-18T10:00Z",
                  "until": "2022-12-18T10:03Z"}  # fmt: skip
        done = console.act("/actions/replay", **fields)
        assert done.status_code == 303
        assert done.headers["Location"] == "/functions/every_minute"

        def replayed() -> list[str]:
            runs = console.get("/runs.json?source=replay").json()["runs"]
            return sorted(r["scheduled_at"] for r in runs if r["state"] == "succeeded")

        wait_for(lambda: len(replayed()) == 3, what="three replayed runs")
        assert replayed()[0] == "2022-12-18T10:00:00Z"
        again = console.act("/actions/replay", **fields)
        assert again.status_code == 303
        assert len(console.get("/runs.json?source=replay").json()["runs"]) == 3
        backwards = console.act("/actions/replay", **{**fields, "until": "2022-12-18T09:00Z"})
        assert backwards.status_code == 400
        assert TickSource.REPLAY.value == "replay"


def test_the_metrics_page_is_for_people_and_metrics_stays_prometheus_text(
    tmp_path: Path,
) -> None:
    with console_over(tmp_path, EVERY_MINUTE) as console:
        run_minutes(console, "every_minute", minutes=1)
        page = console.get("/stats")
        assert page.status_code == 200
        assert '<a href="/stats" class="on">Metrics</a>' in page.text
        assert 'id="family-localbridge_invocations"' in page.text
        families = {f["name"]: f for f in console.get("/stats.json").json()["families"]}
        (row,) = families["localbridge_duration_seconds"]["rows"]
        assert row["count"] == 1.0
        assert console.get("/metrics").headers["Content-Type"].startswith("text/plain")


def test_style_and_script_are_served_from_the_package(tmp_path: Path) -> None:
    with console_over(tmp_path, EVERY_MINUTE) as console:
        style = console.get("/static/console.css")
        assert style.status_code == 200
        assert style.headers["Content-Type"].startswith("text/css")
        script = console.get("/static/console.js")
        assert "MIN_GAP_MS = 1000" in script.text  # a live page refreshes at most once a second
        assert console.get("/static/nope.css").status_code == 404
        assert console.get("/static/../app.py").status_code == 404
        page = console.get("/").text
        assert '<link rel="stylesheet" href="/static/console.css">' in page
        assert "<style>" not in page
