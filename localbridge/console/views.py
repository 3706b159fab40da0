"""What each page shows, as plain data: the JSON twin of every page (``/runs.json``).

``render`` fills a page's template with these dicts; nothing here knows about
HTML or HTTP. Instants are written as in the logs (``2022-12-19T01:00:00Z``);
they are the clock's (virtual under ``make run``), while durations and
lateness are wall-clock milliseconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from prometheus_client import CollectorRegistry

from localbridge.console.numbers import compact_json, plotted, shown
from localbridge.console.results import (
    Gathered,
    Record,
    ResultsClient,
    ResultsUnavailableError,
    Series,
    chart_fields,
    series_of,
)
from localbridge.console.sources import FunctionView, Source
from localbridge.instants import display_instant
from localbridge.ledger.browse import LedgerReader, Run, RunFilter
from localbridge.ticks import Attempt, Tick, TickSource, TickState

View = dict[str, Any]
GRID_TICKS = 30
"""Marks per function in the front page's run grid."""
UPCOMING = 10
"""Next ticks across all functions on the front page."""
FUNCTION_RUNS = 50
"""Runs per page on a function's page; its success rate and durations cover ``RECENT``."""
RECENT = 100
FINISHED = frozenset({TickState.SUCCEEDED, TickState.DEAD, TickState.PURGED})


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


def clock_view(source: Source) -> View:
    """The header's clock: now, its speed (virtual seconds per wall second), its end."""
    return {
        "now": instant(source.clock.now()),
        "speed": float(getattr(source.clock, "speed", 1.0)),
        "until": instant(source.until),
    }


def function_row(
    function: FunctionView, paused: frozenset[str], last: Run | None, dead: int
) -> View:
    return {
        "name": function.name,
        "expression": function.expression,
        "description": function.description,
        "handler": function.handler,
        "next_fires": [instant(t) for t in function.next_fires],
        "paused": function.name in paused,
        "last_run": None if last is None else tick_row(last),
        "dead_letters": dead,
    }


def functions_view(reader: LedgerReader, source: Source) -> View:
    paused = source.paused()
    functions = source.functions()
    last_runs = reader.last_runs(f.name for f in functions)
    dead = reader.dead_counts()
    rows = [function_row(f, paused, last_runs.get(f.name), dead.get(f.name, 0)) for f in functions]
    grid = []
    for function in functions:
        recent = reader.recent_marks(function.name, GRID_TICKS)
        marks = [
            {"id": tick_id, "scheduled_at": instant(at), "state": state.value}
            for tick_id, at, state in reversed(recent)  # oldest on the left
        ]
        grid.append({"function": function.name, "marks": marks})
    upcoming = sorted((t, f.name) for f in functions if f.name not in paused for t in f.next_fires)[
        :UPCOMING
    ]
    return {
        "clock": instant(source.clock.now()),
        "can_run": source.can_run,
        "functions": rows,
        "grid": grid,
        "upcoming": [{"at": instant(t), "function": name} for t, name in upcoming],
    }


def pages_of(
    reader: LedgerReader, chosen: RunFilter, runs: list[Run]
) -> tuple[int | None, int | None]:
    """The keyset links of a page: ``before_id`` of older runs, ``after_id`` of newer
    ones, None where there are none (one indexed probe each, no count)."""
    if not runs:
        if chosen.before_id is not None:
            return None, chosen.before_id - 1
        return (chosen.after_id + 1 if chosen.after_id is not None else None), None
    newest, oldest = runs[0].tick.id, runs[-1].tick.id
    probe = dataclasses.replace(chosen, limit=1)
    older = reader.runs(dataclasses.replace(probe, before_id=oldest, after_id=None))
    newer = reader.runs(dataclasses.replace(probe, before_id=None, after_id=newest))
    return (oldest if older else None), (newest if newer else None)


def runs_view(reader: LedgerReader, chosen: RunFilter, source: Source) -> View:
    runs = reader.runs(chosen)
    older, newer = pages_of(reader, chosen, runs)
    return {
        "filter": {
            "function": chosen.function,
            "state": None if chosen.state is None else chosen.state.value,
            "source": None if chosen.source is None else chosen.source.value,
            "since": instant(chosen.since),
            "until": instant(chosen.until),
            "before_id": chosen.before_id,
            "after_id": chosen.after_id,
        },
        "functions": sorted(f.name for f in source.functions()),
        "runs": [tick_row(run) for run in runs],
        "older_before_id": older,
        "newer_after_id": newer,
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
        "event": tick.event if tick.event is not None else source.sent_event(tick),
        "event_kept": tick.event is not None,
        "enqueued_at": instant(tick.enqueued_at),
        "can_run": source.can_run,
        "attempts": [attempt_row(a) for a in attempts],
    }


def _health(recent: list[Run]) -> View:
    """Success rate over the recent finished runs, and their durations oldest first."""
    finished = [run for run in recent if run.tick.state in FINISHED]
    succeeded = sum(run.tick.state is TickState.SUCCEEDED for run in finished)
    durations = [
        {"id": run.tick.id, "scheduled_at": instant(run.tick.scheduled_at),
         "label": f"{run.tick.scheduled_at:%m-%d %H:%M}", "duration_ms": run.last.duration_ms}
        for run in reversed(recent)
        if run.last is not None and run.last.duration_ms is not None
    ]  # fmt: skip
    return {
        "finished": len(finished),
        "succeeded": succeeded,
        "success_rate": succeeded / len(finished) if finished else None,
        "durations": durations,
    }


def function_view(
    reader: LedgerReader, source: Source, name: str, chosen: RunFilter
) -> View | None:
    """Everything about one function; None when there is no such function."""
    function = next((f for f in source.functions() if f.name == name), None)
    if function is None:
        return None
    last = reader.last_runs([name]).get(name)
    dead = reader.runs(RunFilter(function=name, state=TickState.DEAD, limit=RECENT))
    runs = reader.runs(chosen)
    older, newer = pages_of(reader, chosen, runs)
    now = source.clock.now()
    # A tick is written shortly ahead of its instant: only those that have come count.
    latest = reader.latest_instant(name, TickSource.SCHEDULE, now)
    return {
        "function": function_row(function, source.paused(), last, len(dead)),
        "can_run": source.can_run,
        "health": _health(reader.runs(RunFilter(function=name, limit=RECENT))),
        "last_logs": None if last is None or last.last is None else last.last.logs,
        "dead_letters": [tick_row(run) for run in dead],
        "runs": [tick_row(run) for run in runs],
        "older_before_id": older,
        "newer_after_id": newer,
        "invoke_at": instant(latest or now),
    }


def dlq_view(reader: LedgerReader, source: Source, chosen: RunFilter | None = None) -> View:
    """A page of dead letters, newest first (``chosen``'s keyset, its state ignored)."""
    dead = dataclasses.replace(chosen or RunFilter(), state=TickState.DEAD)
    runs = reader.runs(dead)
    older, newer = pages_of(reader, dead, runs)
    return {
        "can_run": source.can_run,
        "dead_letters": [tick_row(run) for run in runs],
        "older_before_id": older,
        "newer_after_id": newer,
    }


def run_link(idempotency_key: str | None) -> str | None:
    """The console path that finds the run behind an Idempotency-Key."""
    if idempotency_key is None or "/" not in idempotency_key:
        return None
    return "/runs/key/" + quote(idempotency_key, safe="/:")


RECORDS_PAGE = 100
"""Records per page of ``/results``."""
CHART_RECORDS = 2_000
"""The charts are drawn from at most this many of the newest records (of the metric
shown, or of every metric): a bound on what a page asks the results API for."""


def series_view(series: Series) -> View:
    """A metric's chart: one point per period among the records read."""
    return {
        "metric": series.metric,
        "kind": series.kind,
        "period_field": series.period_field,
        "value_field": series.value_field,
        "chart": [
            {
                "period": p.period,
                "value": plotted(p.value),
                "shown": shown(p.value),
                "run": run_link(p.idempotency_key),
            }
            for p in series.latest_per_period()
        ],
    }


def record_row(record: Record, charted: Mapping[str, tuple[str, str]]) -> View:
    """One record of the table: its period and value as its metric's chart reads them
    (``charted``: the fields of each metric charted; others', read from the record)."""
    result = record.get("result")
    result = result if isinstance(result, dict) else {}
    metric = result.get("metric")
    fields = charted.get(metric) if isinstance(metric, str) else None
    fields = fields or chart_fields(result)
    period = None if fields is None else result.get(fields[0])
    value = None if fields is None else result.get(fields[1])
    key = record.get("idempotency_key")
    key = key if isinstance(key, str) else None
    return {
        "id": record["id"],
        "metric": metric if isinstance(metric, str) else None,
        "period_field": None if fields is None else fields[0],
        "period": None if period is None else shown(period),
        "value_field": None if fields is None else fields[1],
        "value": plotted(value),
        "shown": shown(value),
        "idempotency_key": key,
        "received_at": str(record.get("received_at", "")),
        "run": run_link(key),
        "result": compact_json(result),
    }


@dataclass(frozen=True)
class RecordsPage:
    records: list[Record]
    older_before_id: int | None
    newer_after_id: int | None


def records_page(
    client: ResultsClient,
    newest: Gathered,
    metric: str | None,
    before_id: int | None,
    after_id: int | None,
) -> RecordsPage:
    """The page of records asked for, newest first, and where the pages beside it begin
    (``newest``: the newest records, already read for the charts)."""
    if after_id is not None:
        ascending = client.after(after_id, RECORDS_PAGE + 1, metric)
        page = ascending[:RECORDS_PAGE][::-1]
        newer = page[0]["id"] if len(ascending) > RECORDS_PAGE else None
        older = (page[-1]["id"] if page else after_id + 1) if after_id > 0 else None
        return RecordsPage(page, older, newer)
    if before_id is None:
        page = newest.records[:RECORDS_PAGE]
        if len(newest.records) > RECORDS_PAGE:
            return RecordsPage(page, page[-1]["id"], None)
        return RecordsPage(page, newest.older_before, None)
    gathered = client.before(before_id, RECORDS_PAGE, metric)
    page = gathered.records
    top = page[0]["id"] if page else before_id - 1
    latest = newest.records[0]["id"] if newest.records else 0
    return RecordsPage(page, gathered.older_before, top if top < latest else None)


def results_view(
    results_api_url: str | None,
    metric: str | None = None,
    before_id: int | None = None,
    after_id: int | None = None,
) -> View:
    """The charts of every metric (or only ``metric``) and a page of their records,
    newest first: the newest, or those before ``before_id`` or after ``after_id``."""
    view: View = {"results_api_url": results_api_url, "error": None, "chosen_metric": metric,
                  "metrics": [], "records": [], "older_before_id": None, "newer_after_id": None,
                  "chart_records": 0, "charts_bounded": False}  # fmt: skip
    if results_api_url is None:
        view["error"] = (
            "no results API: the stage sets no RESULTS_API_URL "
            "(pass --results-api URL, or --env RESULTS_API_URL=... to `run`)"
        )
        return view
    client = ResultsClient(results_api_url)
    try:
        newest = client.before(client.newest_id() + 1, CHART_RECORDS, metric)
        page = records_page(client, newest, metric, before_id, after_id)
    except ResultsUnavailableError as error:
        view["error"] = str(error)
        return view
    series = series_of(newest.records)
    charted = {s.metric: (s.period_field, s.value_field) for s in series}
    view.update(
        metrics=[series_view(s) for s in series],
        records=[record_row(record, charted) for record in page.records],
        older_before_id=page.older_before_id,
        newer_after_id=page.newer_after_id,
        chart_records=len(newest.records),
        charts_bounded=newest.older_before is not None,
    )
    return view


def stats_view(registry: CollectorRegistry) -> View:
    """The Prometheus registry for people: each family's samples as rows (a
    histogram by its count, sum and mean; its buckets stay on ``/metrics``)."""
    families = []
    for family in registry.collect():
        rows: dict[str, View] = {}
        for sample in family.samples:
            suffix = sample.name.removeprefix(family.name).lstrip("_") or "value"
            if suffix in ("bucket", "created"):
                continue
            labels = ", ".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            rows.setdefault(labels, {"labels": labels})[suffix] = plotted(sample.value)
        for row in rows.values():
            if family.type == "histogram" and row.get("count"):
                row["mean"] = (row.get("sum") or 0.0) / row["count"]
        ordered: list[View] = sorted(rows.values(), key=lambda r: str(r["labels"]))
        families.append(
            {"name": family.name, "type": family.type, "help": family.documentation,
             "rows": ordered}
        )  # fmt: skip
    return {"families": families}
