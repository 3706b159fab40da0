"""The run log: one line per finished attempt, on the ``localbridge.runs`` logger.

What someone watching ``localbridge run`` reads: function, scheduled time,
lateness, duration, outcome, and the payload it returned or the error it
raised; then what follows (a retry, the dead-letter queue).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from localbridge.instants import display_instant
from localbridge.terminal import escape
from localbridge.ticks import RunReport, Tick, TickState

run_log = logging.getLogger("localbridge.runs")

PAYLOAD_SUMMARY_LIMIT = 200
"""Characters of a run's payload shown in its log line; the ledger keeps it all."""


def payload_summary(payload: Any) -> str:
    """The returned payload as compact JSON, cut short for a log line.

    Showing it is what lets someone watching ``make run`` see the metric each
    run posted without querying the API.
    """
    text = escape(json.dumps(payload, separators=(",", ":"), default=str))
    if len(text) <= PAYLOAD_SUMMARY_LIMIT:
        return text
    return text[: PAYLOAD_SUMMARY_LIMIT - 3] + "..."


def describe_run(report: RunReport) -> str:
    """The one log line per run: function, scheduled time, lateness, duration, outcome."""
    tick, result, decision = report.tick, report.result, report.decision
    line = (
        f"{tick.function} {display_instant(tick.scheduled_at)} attempt {report.attempt} "
        f"lateness {report.lateness_ms:.1f} ms duration {result.duration_ms:.1f} ms "
        f"{result.outcome.value}"
    )
    if result.succeeded:
        line += f" -> {payload_summary(result.payload)}"
    else:
        # The error is the job's own text: its control characters are shown, not obeyed.
        line += escape(f" ({result.error_type}: {result.error_message})", keep_newlines=False)
    if decision.state is TickState.RETRYING and decision.next_attempt_at is not None:
        line += f" -> {decision.reason} {display_instant(decision.next_attempt_at)}"
    elif decision.state is TickState.DEAD:
        line += f" -> dead: {decision.reason}"
    return line


def log_run(report: RunReport) -> None:
    """Log the run's line: INFO when it succeeded, WARNING otherwise."""
    level = logging.INFO if report.result.succeeded else logging.WARNING
    if run_log.isEnabledFor(level):
        run_log.log(level, describe_run(report))


def log_buried(tick: Tick, reason: str) -> None:
    """A tick that went to the dead-letter queue without running."""
    run_log.warning(f"{tick.function} {display_instant(tick.scheduled_at)} -> dead: {reason}")
