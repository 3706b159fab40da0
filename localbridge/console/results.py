"""The results API as the console reads it: every record, grouped into a series per metric.

Which field of a result is its period and which its value is read from the
result, never from a list of the shipped jobs' fields: a job may declare it
(``"chart": {"period": "day", "value": "total"}``), else the period is the
first field holding a date, an ISO week or an instant (``2022-12-21``,
``2022-W50``) and the value is ``value`` when present, else the first number.
Periods that are days are drawn as bars, others as a line. A metric's series
has one point per period - the latest received, so a repeat does not draw
twice - and every record stays in the table under the chart. The
Idempotency-Key ``<function>/<scheduled time>`` links a point to the run that
produced it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import requests

PAGE = 10_000
TIMEOUT_S = 5.0
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
PERIOD = re.compile(r"\d{4}-(W\d{2}|\d{2}(-\d{2})?)([T ][0-9:.]+Z?)?")
"""A day, an ISO week, a month or an instant: what a period looks like."""


class ResultsUnavailableError(Exception):
    """The results API did not answer as expected; the message says what to check."""


@dataclass(frozen=True)
class Point:
    period: str
    value: Any
    """As posted: any JSON value (``plotted`` says whether a chart can place it)."""
    record_id: int
    idempotency_key: str | None
    received_at: str
    result: dict[str, Any]


@dataclass
class Series:
    metric: str
    period_field: str
    value_field: str
    points: list[Point] = field(default_factory=list)
    """Every record, oldest period first."""

    @property
    def kind(self) -> str:
        """Daily figures as bars, everything else (weekly averages) as a line."""
        days = all(DAY.fullmatch(p.period) for p in self.points)
        return "bars" if self.points and days else "line"

    def latest_per_period(self) -> list[Point]:
        latest: dict[str, Point] = {}
        for point in self.points:
            if point.period not in latest or point.record_id > latest[point.period].record_id:
                latest[point.period] = point
        return [latest[period] for period in sorted(latest)]


def fetch_records(base_url: str, session: requests.Session | None = None) -> list[dict[str, Any]]:
    """Every stored record, following ``after_id`` pages."""
    getter = session or requests.Session()
    records: list[dict[str, Any]] = []
    after = 0
    while True:
        url = f"{base_url.rstrip('/')}/result"
        try:
            response = getter.get(url, params={"limit": PAGE, "after_id": after}, timeout=TIMEOUT_S)
        except requests.RequestException as error:
            raise ResultsUnavailableError(
                f"the results API at {base_url} did not answer ({error})"
            ) from None
        if response.status_code != 200:
            raise ResultsUnavailableError(
                f"GET {url} answered {response.status_code}: {response.text[:200]}"
            )
        try:
            page = response.json()
        except json.JSONDecodeError:
            raise ResultsUnavailableError(f"GET {url} did not answer JSON") from None
        records.extend(page)
        if len(page) < PAGE:
            return records
        after = page[-1]["id"]


def delete_record(base_url: str, record_id: int, token: str | None) -> tuple[int, str] | None:
    """``DELETE /result/{id}`` with the bearer token when known: None when deleted,
    else the status the console answers and a sentence that says what to do."""
    url = f"{base_url.rstrip('/')}/result/{record_id}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = requests.delete(url, headers=headers, timeout=TIMEOUT_S)
    except requests.RequestException as error:
        return 502, f"the results API at {base_url} did not answer ({error})"
    if response.status_code == 204:
        return None
    if response.status_code == 401:
        return 502, (
            f"the results API refused to delete result {record_id} without its token:"
            " set RESULTS_API_TOKEN in the stage's environment"
        )
    if response.status_code == 404:
        return 404, f"no result {record_id} in the results API (deleted already?)"
    return 502, f"DELETE {url} answered {response.status_code}: {response.text[:200]}"


def chart_fields(result: dict[str, Any]) -> tuple[str, str] | None:
    """(period field, value field) of one result: declared, else inferred; None when
    it has no period or no value to chart."""
    declared = result.get("chart")
    if isinstance(declared, dict):
        period, value = declared.get("period"), declared.get("value")
        if isinstance(period, str) and isinstance(value, str) and period in result:
            return period, value
    period_field = next(
        (k for k, v in result.items() if isinstance(v, str) and PERIOD.fullmatch(v)), None
    )
    if period_field is None:
        return None
    if "value" in result:
        return period_field, "value"
    numeric = (
        k for k, v in result.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    )  # fmt: skip
    value_field = next(numeric, None)
    return None if value_field is None else (period_field, value_field)


def series_of(records: list[dict[str, Any]]) -> list[Series]:
    """One series per metric that has a period and a value, by metric name."""
    by_metric: dict[str, Series] = {}
    for record in records:
        result = record.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("metric"), str):
            continue
        metric = result["metric"]
        series = by_metric.get(metric)
        if series is None:
            fields = chart_fields(result)
            if fields is None:
                continue
            series = by_metric[metric] = Series(metric, *fields)
        period = result.get(series.period_field)
        series.points.append(
            Point(
                period=period if isinstance(period, str) else json.dumps(period, default=str),
                value=result.get(series.value_field),
                record_id=record["id"],
                idempotency_key=record.get("idempotency_key"),
                received_at=str(record.get("received_at", "")),
                result=result,
            )
        )
    for series in by_metric.values():
        series.points.sort(key=lambda p: (p.period, p.record_id))
    return [by_metric[name] for name in sorted(by_metric)]
