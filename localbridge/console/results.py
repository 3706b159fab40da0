"""The results API as the console reads it: a page of records at a time, a series per metric.

Which field of a result is its period and which its value is read from the
result, never from a list of the shipped jobs' fields: a job may declare it
(``"chart": {"period": "day", "value": "total"}``), else the period is the
first field holding a date, an ISO week or an instant (``2022-12-21``,
``2022-W50``) and the value is ``value`` when present, else the first number.
Periods that are days are drawn as bars, others as a line. A metric's series
has one point per period - the latest received, so a repeat does not draw
twice - and every record is listed in the pages under the charts. The
Idempotency-Key ``<function>/<scheduled time>`` links a point to the run that
produced it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import requests

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


Record = dict[str, Any]

API_LIMIT = 10_000
"""The most records ``GET /result`` answers at once (its ``limit``)."""
MAX_REQUESTS = 12
"""At most this many requests to gather one page or one chart's records, so a page's
cost is bounded however sparse a metric's records are among the others."""


@dataclass(frozen=True)
class Gathered:
    """Records gathered backwards from an id: newest first."""

    records: list[Record]
    older_before: int | None
    """Where the next older page begins (its ``before_id``); None when there is none."""


class ResultsClient:
    """``GET /result`` a page at a time, for pages newest first.

    The API answers records oldest first after an id (``after_id``, ``limit``,
    ``metric``) and has no "before an id" nor a newest-first order. So the
    newest id is found from ``/health``'s count (ids are never reused: the
    newest is the count unless results were deleted, then a probe after it
    finds the rest), and records before an id are read in windows of ids
    going backwards, each window asked for whole (``limit`` = its width, so
    no record in it is missed), twice as wide each time up to ``API_LIMIT``.
    """

    def __init__(self, base_url: str, session: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session or requests.Session()

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        url = f"{self.base_url}{path}"
        try:
            response = self._session.get(url, params=params, timeout=TIMEOUT_S)
        except requests.RequestException as error:
            raise ResultsUnavailableError(
                f"the results API at {self.base_url} did not answer ({error})"
            ) from None
        if response.status_code != 200:
            raise ResultsUnavailableError(
                f"GET {url} answered {response.status_code}: {response.text[:200]}"
            )
        try:
            return response.json()
        except json.JSONDecodeError:
            raise ResultsUnavailableError(f"GET {url} did not answer JSON") from None

    def after(self, after_id: int, limit: int, metric: str | None = None) -> list[Record]:
        """Up to ``limit`` records after ``after_id``, oldest first (one request)."""
        params: dict[str, Any] = {"after_id": after_id, "limit": min(limit, API_LIMIT)}
        if metric is not None:
            params["metric"] = metric
        page = self._get("/result", params)
        if not isinstance(page, list):
            raise ResultsUnavailableError(f"GET {self.base_url}/result did not answer a list")
        return [r for r in page if isinstance(r, dict) and isinstance(r.get("id"), int)]

    def newest_id(self) -> int:
        """The largest id stored (0 when none)."""
        health = self._get("/health", {})
        count = health.get("results") if isinstance(health, dict) else None
        newest = count if isinstance(count, int) and count > 0 else 0
        for _ in range(MAX_REQUESTS):
            beyond = self.after(newest, API_LIMIT)
            if not beyond:
                return newest
            newest = beyond[-1]["id"]
        return newest

    def before(self, before_id: int, count: int, metric: str | None = None) -> Gathered:
        """Up to ``count`` records with an id below ``before_id``, newest first."""
        found: list[Record] = []
        upper, width = before_id, min(count + 1, API_LIMIT)
        for _ in range(MAX_REQUESTS):
            if upper <= 1 or len(found) > count:
                break
            lower = max(0, upper - width)
            window = [r for r in self.after(lower, upper - lower, metric) if r["id"] < upper]
            found.extend(reversed(window))
            upper, width = lower + 1, min(width * 2, API_LIMIT)
        if len(found) > count:
            return Gathered(found[:count], found[count - 1]["id"])
        # Every record was read, or the requests ran out: the rest is from ``upper`` down.
        return Gathered(found, upper if upper > 1 else None)


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
