"""The console's actions: refused across sites, and what each does to the runtime and ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from localbridge.ledger import Ledger
from localbridge.ledger.pauses import read_paused
from localbridge.ticks import TickSource, TickState
from tests.localbridge.console.support import FAILS_ONCE, PRINTS, advance, console_over
from tests.localbridge.runtime.harness import EVERY_MINUTE, wait_for_state
from tests.support import wait_for

MIDNIGHT = datetime(2022, 12, 19, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "with_token", "refusal"),
    [
        ({}, False, "token"),
        ({"Sec-Fetch-Site": "cross-site"}, True, "cross-site"),
        ({"Sec-Fetch-Site": "same-site"}, True, "cross-site"),
        ({"Origin": "http://evil.example"}, True, "another origin"),
        ({"Origin": "null"}, True, "opaque origin"),
    ],
)
def test_an_action_from_another_site_or_without_the_token_is_refused(
    tmp_path: Path, headers: dict[str, str], with_token: bool, refusal: str
) -> None:
    with console_over(tmp_path, EVERY_MINUTE) as console:
        form = {"function": "every_minute", **({"token": console.token()} if with_token else {})}
        answer = console.post("/actions/pause", form, **headers)
        assert answer.status_code == 403
        assert refusal in answer.text
        assert read_paused(console.ledger.path) == frozenset()


def mark_reached(ledger: Ledger, instant: datetime) -> bool:
    mark = ledger.function_marks().get("every_minute")
    return mark is not None and mark.scheduled_through >= instant


def test_pause_stops_the_runs_and_resume_does_not_catch_up(tmp_path: Path) -> None:
    with console_over(tmp_path, EVERY_MINUTE) as console:
        advance(console, 1)
        wait_for_state(console.ledger, "every_minute", MIDNIGHT + timedelta(minutes=1),
                       TickState.SUCCEEDED)  # fmt: skip
        paused = console.act("/actions/pause", function="every_minute", next="/")
        assert paused.status_code == 303
        assert paused.headers["Location"] == "/"
        assert read_paused(console.ledger.path) == {"every_minute"}
        assert '<span class="paused">paused</span>' in console.get("/").text

        advance(console, 5)  # 00:06:30: five instants pass while paused
        # The resume comes after the runtime passed them (its schedule's mark
        # moved on), as it would in real time; a loop still behind the jump
        # of the manual clock at the resume would fire them as current.
        wait_for(lambda: mark_reached(console.ledger, MIDNIGHT + timedelta(minutes=6)),
                 30, "the runtime to pass the paused instants")  # fmt: skip
        console.runtime.dispatcher.wait_idle(5)
        resumed = console.act("/actions/resume", function="every_minute")
        assert resumed.status_code == 303
        advance(console, 1)  # 00:07:30
        wait_for_state(console.ledger, "every_minute", MIDNIGHT + timedelta(minutes=7),
                       TickState.SUCCEEDED)  # fmt: skip
        fired = [t.scheduled_at.minute for t in console.ledger.find("every_minute")]
        assert fired == [1, 7]  # nothing for 2..6, before or after the resume
        assert console.get("/index.json").json()["functions"][0]["paused"] is False


def test_pause_all_and_an_unknown_function(tmp_path: Path) -> None:
    with console_over(tmp_path, EVERY_MINUTE, PRINTS) as console:
        assert console.act("/actions/pause", all="1").status_code == 303
        assert read_paused(console.ledger.path) == {"every_minute", "prints"}
        assert console.act("/actions/resume", all="1").status_code == 303
        assert read_paused(console.ledger.path) == frozenset()
        unknown = console.act("/actions/pause", function="nope")
        assert unknown.status_code == 404
        assert "every_minute" in unknown.text  # names the known ones
        assert console.act("/actions/explode", function="prints").status_code == 404


def test_invoke_now_runs_the_function_and_leads_to_its_run(tmp_path: Path) -> None:
    with console_over(tmp_path, PRINTS) as console:
        answer = console.act("/actions/invoke", function="prints")
        assert answer.status_code == 303
        tick_id = int(answer.headers["Location"].removeprefix("/runs/"))

        def finished() -> bool:
            tick = console.ledger.get(tick_id)
            return tick is not None and tick.state is TickState.SUCCEEDED

        wait_for(finished, 20, "the invoked run to succeed")
        run = console.get(answer.headers["Location"] + ".json").json()
        assert run["run"]["source"] == TickSource.EVENT.value
        # The attempt keeps its log as Lambda frames it: START, the output, END, REPORT.
        assert "\ncounting rows for 2022-12-19T00:00:30" in run["attempts"][0]["logs"]


def test_redrive_runs_a_dead_letter_again_and_purge_discards_one(tmp_path: Path) -> None:
    flag = tmp_path / "failing"
    flag.touch()
    with console_over(tmp_path, FAILS_ONCE, env={"FAIL_FLAG": str(flag)}) as console:
        half_past = MIDNIGHT + timedelta(minutes=30)
        advance(console, 30)
        dead = wait_for_state(console.ledger, "fails_until_fixed", half_past, TickState.DEAD)
        dlq = console.get("/dlq").text
        assert f'href="/runs/{dead.id}"' in dlq
        assert "ConnectionError: results API unreachable" in dlq
        assert console.get("/index.json").json()["functions"][0]["dead_letters"] == 1

        flag.unlink()
        assert console.act("/actions/redrive", id=str(dead.id)).status_code == 303
        wait_for_state(console.ledger, "fails_until_fixed", half_past, TickState.SUCCEEDED,
                       attempts=2)  # fmt: skip
        assert "the dead-letter queue is empty" in console.get("/dlq").text
        again = console.act("/actions/redrive", id=str(dead.id))
        assert again.status_code == 404  # no longer dead

        flag.touch()
        advance(console, 24 * 60)
        next_day = half_past + timedelta(days=1)
        second = wait_for_state(console.ledger, "fails_until_fixed", next_day, TickState.DEAD)
        assert console.act("/actions/purge", id=str(second.id)).status_code == 303
        purged = console.ledger.get(second.id)
        assert purged is not None
        assert purged.state is TickState.PURGED
        assert console.get("/dlq.json").json()["dead_letters"] == []
