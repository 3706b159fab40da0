"""What each page shows, as plain data: the JSON twin of every page (``/runs.json``).

``pages`` renders these dicts as HTML; nothing here knows about HTML or HTTP.
Instants are written as in the logs (``2022-12-19T01:00:00Z``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote

from localbridge.console.results import ResultsUnavailableError, Series, fetch_records, series_of
from localbridge.console.sources import Source
from localbridge.instants import display_instant
from localbridge.ledger.browse import LedgerReader, Run, RunFilter
from localbridge.ticks import Attempt, Tick, TickState

View = dict[str, Any]


def instant(value: datetime | None) -> str | None:
    return None if value is None else display_instant(value)


def _last_outcome(last: Attempt | None) -> str | None:
    return None if last is None or last.outcome is None else last.outcome.value


def tick_row(run: Run) -> View:
    tick, last = run.tick, run.last
    return {
        "id": tick.id,
        "function": tick.function,
        "scheduled_at": instant(tick.scheduled_at),
        "state": tick.state.value,
        "source": tick.source.value,
        "attempts": tick.attempts,
        "last_outcome": _last_outcome(last),
        "duration_ms": None if last is None else last.duration_ms,
        "error": None
        if last is None or last.error_type is None
        else f"{last.error_type}: {last.error_message}",
        "next_attempt_at": instant(tick.next_attempt_at),
    }


def functions_view(reader: LedgerReader, source: Source) -> View:
    paused = source.paused()
    last_runs = reader.last_runs()
    dead = reader.dead_counts()
    rows = []
    for function in source.functions():
        last = last_runs.get(function.name)
        rows.append(
            {
                "name": function.name,
                "expression": function.expression,
                "description": function.description,
                "handler": function.handler,
                "next_fires": [instant(t) for t in function.next_fires],
                "paused": function.name in paused,
                "last_run": None if last is None else tick_row(last),
                "dead_letters": dead.get(function.name, 0),
            }
        )
    return {"clock": instant(source.clock.now()), "can_run": source.can_run, "functions": rows}


def runs_view(reader: LedgerReader, chosen: RunFilter, source: Source) -> View:
    runs = reader.runs(chosen)
    older = runs[-1].tick.id if len(runs) == chosen.limit else None
    return {
        "filter": {
            "function": chosen.function,
            "state": None if chosen.state is None else chosen.state.value,
            "source": None if chosen.source is None else chosen.source.value,
            "since": instant(chosen.since),
            "until": instant(chosen.until),
            "before_id": chosen.before_id,
        },
        "functions": sorted(f.name for f in source.functions()),
        "runs": [tick_row(run) for run in runs],
        "older_before_id": older,
    }


def attempt_row(attempt: Attempt) -> View:
    return {
        "number": attempt.number,
        "started_at": instant(attempt.started_at),
        "ended_at": instant(attempt.ended_at),
        "lateness_ms": attempt.lateness_ms,
        "duration_ms": attempt.duration_ms,
        "outcome": None if attempt.outcome is None else attempt.outcome.value,
        "error_type": attempt.error_type,
        "error_message": attempt.error_message,
        "traceback": attempt.traceback,
        "payload": attempt.payload,
        "payload_truncated": attempt.payload_truncated,
        "logs": attempt.logs,
    }


def run_view(reader: LedgerReader, tick: Tick, source: Source) -> View:
    attempts = reader.attempts(tick.id)
    last = attempts[-1] if attempts else None
    return {
        "run": tick_row(Run(tick, last)),
        "idempotency_key": f"{tick.function}/{tick.scheduled_at:%Y-%m-%dT%H:%M:%SZ}",
        "event": tick.event,
        "enqueued_at": instant(tick.enqueued_at),
        "can_run": source.can_run,
        "attempts": [attempt_row(a) for a in attempts],
    }


def dlq_view(reader: LedgerReader, source: Source) -> View:
    runs = reader.runs(RunFilter(state=TickState.DEAD, limit=1000))
    return {"can_run": source.can_run, "dead_letters": [tick_row(run) for run in runs]}


def run_link(idempotency_key: str | None) -> str | None:
    """The console path that finds the run behind an Idempotency-Key."""
    if idempotency_key is None or "/" not in idempotency_key:
        return None
    return "/runs/key/" + quote(idempotency_key, safe="/:")


def series_view(series: Series) -> View:
    return {
        "metric": series.metric,
        "kind": series.kind,
        "period_field": series.period_field,
        "value_field": series.value_field,
        "chart": [
            {"period": p.period, "value": p.value, "run": run_link(p.idempotency_key)}
            for p in series.latest_per_period()
        ],
        "records": [
            {
                "id": p.record_id,
                "period": p.period,
                "value": p.value,
                "idempotency_key": p.idempotency_key,
                "received_at": p.received_at,
                "run": run_link(p.idempotency_key),
                "result": json.dumps(p.result, separators=(",", ":")),
            }
            for p in series.points
        ],
    }


def results_view(results_api_url: str | None) -> View:
    if results_api_url is None:
        return {
            "results_api_url": None,
            "error": "no results API: the stage sets no RESULTS_API_URL "
            "(pass --results-api URL, or --env RESULTS_API_URL=... to `run`)",
            "metrics": [],
        }
    try:
        records = fetch_records(results_api_url)
    except ResultsUnavailableError as error:
        return {"results_api_url": results_api_url, "error": str(error), "metrics": []}
    metrics = [series_view(series) for series in series_of(records)]
    return {"results_api_url": results_api_url, "error": None, "metrics": metrics}
