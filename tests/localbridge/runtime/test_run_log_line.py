"""The one log line per run: what someone watching `localbridge run` reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from localbridge.model import InvocationResult, Outcome
from localbridge.runtime.runlog import PAYLOAD_SUMMARY_LIMIT, describe_run
from localbridge.ticks import Decision, RunReport, TickState
from tests.localbridge.runtime.reports import run_report

SCHEDULED = datetime(2022, 12, 19, 1, 0, tzinfo=UTC)


def report(result: InvocationResult, decision: Decision) -> RunReport:
    return run_report(1, "average_weight_last_week", SCHEDULED, result, decision, 1.25)


def succeeded(payload: Any) -> RunReport:
    result = InvocationResult(Outcome.SUCCEEDED, 10.0, 10.0325, payload=payload)
    return report(result, Decision(TickState.SUCCEEDED))


def test_a_successful_run_shows_what_it_returned() -> None:
    line = describe_run(succeeded({"metric": "average_weight", "week": "2022-W50", "count": 18}))
    assert line == (
        "average_weight_last_week 2022-12-19T01:00:00Z attempt 1 lateness 1.2 ms "
        'duration 32.5 ms succeeded -> {"metric":"average_weight","week":"2022-W50","count":18}'
    )


def test_a_long_payload_is_cut_short_in_the_line() -> None:
    line = describe_run(succeeded({"rows": list(range(1000))}))
    shown = line.split(" -> ", 1)[1]
    assert len(shown) == PAYLOAD_SUMMARY_LIMIT
    assert shown.startswith('{"rows":[0,1,2,')
    assert shown.endswith("...")


def test_a_failed_run_shows_its_error_not_a_payload() -> None:
    result = InvocationResult(
        Outcome.ERROR, 10.0, 10.001, error_type="ValueError", error_message="boom"
    )
    line = describe_run(report(result, Decision(TickState.DEAD, reason="no retries left")))
    assert line.endswith("error (ValueError: boom) -> dead: no retries left")


def test_the_run_log_line_shows_a_jobs_control_characters_escaped() -> None:
    result = InvocationResult(
        Outcome.ERROR, 10.0, 10.01, error_type="E", error_message="x\x1b[2J\ry\nz"
    )
    line = describe_run(report(result, Decision(TickState.DEAD, reason="retries exhausted")))
    assert "(E: x\\x1b[2J\\ry\\nz)" in line
    assert "\x1b" not in line
    assert "\n" not in line
