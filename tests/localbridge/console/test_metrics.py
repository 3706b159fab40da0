"""``GET /metrics``: the Prometheus names the docs promise, fed by real runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from localbridge.ticks import TickState
from tests.localbridge.console.support import advance, console_over
from tests.localbridge.runtime.harness import EVERY_MINUTE, RAISES, wait_for_state

MINUTE_ONE = datetime(2022, 12, 19, 0, 1, tzinfo=UTC)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_count_runs_and_show_dead_letters_pauses_and_next_fires(tmp_path: Path) -> None:
    with console_over(tmp_path, EVERY_MINUTE, RAISES) as console:
        advance(console, 1)
        wait_for_state(console.ledger, "every_minute", MINUTE_ONE, TickState.SUCCEEDED)
        wait_for_state(console.ledger, "raises", MINUTE_ONE, TickState.DEAD)
        console.act("/actions/pause", function="raises")
        answer = console.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("text/plain")
        found = samples(answer.text)

        def value(name: str, **labels: str) -> float:
            return found[(name, tuple(sorted(labels.items())))]

        invocations = "localbridge_invocations_total"
        assert value(invocations, function="every_minute", outcome="succeeded",
                     source="schedule") == 1  # fmt: skip
        assert value(invocations, function="raises", outcome="error", source="schedule") == 1
        assert value("localbridge_lateness_seconds_count", function="every_minute") == 1
        assert value("localbridge_duration_seconds_count", function="raises") == 1
        assert value("localbridge_dead_letters", function="raises") == 1
        assert value("localbridge_dead_letters", function="every_minute") == 0
        assert value("localbridge_paused", function="raises") == 1
        assert value("localbridge_paused", function="every_minute") == 0
        next_fire = (MINUTE_ONE + timedelta(minutes=1)).timestamp()
        assert value("localbridge_next_fire_timestamp_seconds", function="every_minute") == (
            next_fire
        )
        names = {family.name for family in text_string_to_metric_families(answer.text)}
        assert "localbridge_retries" in names  # a counter family: samples end in _total
