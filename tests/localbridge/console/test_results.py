"""``/results``: each metric of a real results API charted, each point linked to its run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from localbridge.ticks import NewTick, TickSource
from tests.api.server import api_server
from tests.conftest import ResultsApi
from tests.localbridge.console.support import console_over
from tests.localbridge.runtime.harness import EVERY_MINUTE

WEEK_50 = {"metric": "average_weight", "week": "2022-W50", "period_start": "2022-12-12",
           "period_end": "2022-12-18", "value": 2575.764705882353, "count": 17}  # fmt: skip


def post(api: ResultsApi, key: str, body: dict[str, Any]) -> None:
    answer = requests.post(f"{api.url}/result", json=body, headers={"Idempotency-Key": key},
                           timeout=10)  # fmt: skip
    assert answer.status_code == 201, answer.text


def test_results_are_charted_per_metric_and_linked_to_their_runs(
    tmp_path: Path, results_api: ResultsApi
) -> None:
    post(results_api, "weekly/2022-12-19T01:00:00Z", WEEK_50)
    for day, count in (("2022-12-18", 1), ("2022-12-19", 3), ("2022-12-20", 5)):
        post(results_api, f"daily/{day}T23:00:00Z",
             {"metric": "registrations", "date": day, "count": count})  # fmt: skip
    with console_over(tmp_path, EVERY_MINUTE, results_api_url=results_api.url) as console:
        scheduled = datetime(2022, 12, 19, 1, 0, tzinfo=UTC)
        (tick,) = console.ledger.add_ticks(
            [NewTick("weekly", scheduled, TickSource.SCHEDULE, scheduled)], scheduled
        )
        page = console.get("/results").text
        weekly = page[page.index('id="metric-average_weight"') :]
        weekly = weekly[: weekly.index("</section>")]
        assert "<polyline" in weekly or "<circle" in weekly  # a line chart
        assert ">2,575.76</text>" in weekly  # the week-50 value, on the chart
        assert ">2022-W50</text>" in weekly
        assert 'href="/runs/key/weekly/2022-12-19T01:00:00Z"' in weekly
        daily = page[page.index('id="metric-registrations"') :]
        assert daily.count('<rect class="bar"') == 3

        twin = console.get("/results.json").json()
        assert [m["metric"] for m in twin["metrics"]] == ["average_weight", "registrations"]
        assert [p["value"] for p in twin["metrics"][1]["chart"]] == [1, 3, 5]

        linked = console.get("/runs/key/weekly/2022-12-19T01:00:00Z", allow_redirects=False)
        assert linked.status_code == 303
        assert linked.headers["Location"] == f"/runs/{tick.id}"
        assert console.get("/runs/key/daily/2022-12-19T23:00:00Z").status_code == 404


def test_an_unreachable_results_api_is_said_on_the_page(tmp_path: Path) -> None:
    with console_over(tmp_path, EVERY_MINUTE, results_api_url="http://127.0.0.1:9") as console:
        page = console.get("/results")
        assert page.status_code == 200
        assert "the results API at http://127.0.0.1:9 did not answer" in page.text
    with console_over(tmp_path / "none", EVERY_MINUTE) as console:
        assert "no results API" in console.get("/results").text


def record_ids(api_url: str) -> list[int]:
    return [r["id"] for r in requests.get(f"{api_url}/result", timeout=10).json()]


def test_a_result_row_is_deleted_with_the_stage_token(tmp_path: Path) -> None:
    token = {"Authorization": "Bearer s3cret"}
    with api_server(tmp_path / "results.db", tmp_path, RESULTS_API_TOKEN="s3cret") as api:
        for day in ("2022-12-18", "2022-12-19"):
            body = {"metric": "registrations", "date": day, "count": 1}
            assert requests.post(f"{api.url}/result", json=body, headers=token,
                                 timeout=10).status_code == 201  # fmt: skip
        kept, junk = record_ids(api.url)
        with console_over(tmp_path / "c", EVERY_MINUTE, results_api_url=api.url,
                          env={"RESULTS_API_TOKEN": "s3cret"}) as console:  # fmt: skip
            page = console.get("/results").text
            assert page.count('action="/actions/delete-result"') == 2
            assert f'name="id" value="{junk}"' in page

            deleted = console.act("/actions/delete-result", id=junk, next="/results")

            assert deleted.status_code == 303
            assert deleted.headers["Location"] == "/results"
            assert record_ids(api.url) == [kept]
            again = console.act("/actions/delete-result", id=junk)
            assert again.status_code == 404
            assert f"no result {junk}" in again.text
            forged = console.post("/actions/delete-result", {"id": kept},
                                  **{"Sec-Fetch-Site": "cross-site"})  # fmt: skip
            assert forged.status_code == 403
        assert record_ids(api.url) == [kept]


def test_without_the_token_the_console_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RESULTS_API_TOKEN", raising=False)  # the console's fallback
    with api_server(tmp_path / "results.db", tmp_path, RESULTS_API_TOKEN="s3cret") as api:
        body = {"metric": "registrations", "date": "2022-12-18", "count": 1}
        requests.post(f"{api.url}/result", json=body,
                      headers={"Authorization": "Bearer s3cret"}, timeout=10)  # fmt: skip
        (only,) = record_ids(api.url)
        with console_over(tmp_path / "c", EVERY_MINUTE, results_api_url=api.url) as console:
            refused = console.act("/actions/delete-result", id=only)

            assert refused.status_code == 502
            assert "set RESULTS_API_TOKEN" in refused.text
        assert record_ids(api.url) == [only]


ODD_VALUES = {
    "2022-12-01": 1.7e308,
    "2022-12-02": 5e-324,
    "2022-12-03": int("9" * 400),
    "2022-12-04": "many",
    "2022-12-05": None,
    "2022-12-06": -3,
}


def test_any_value_a_job_posts_is_shown_as_it_is_and_breaks_no_page(
    tmp_path: Path, results_api: ResultsApi
) -> None:
    for day, count in ODD_VALUES.items():
        post(results_api, f"odd/{day}T00:00:00Z", {"metric": "odd", "date": day, "count": count})
    post(results_api, "bare/1", {"metric": "bare", "day": "2022-12-07"})  # no value at all
    with console_over(tmp_path, EVERY_MINUTE, results_api_url=results_api.url) as console:
        page = console.get("/results")
        assert page.status_code == 200
        odd = page.text[page.text.index('id="metric-odd"') :]
        assert "1.7e+308" in odd
        assert "4.94066e-324" in odd
        assert "9" * 400 in odd
        assert '<div class="fold">many</div>' in odd
        assert odd.count('<rect class="bar"') == 6  # one per day, empty where not a number
        twin = console.get("/results.json")
        assert twin.status_code == 200
        (metric,) = twin.json()["metrics"]
        shown = {p["period"]: (p["value"], p["shown"]) for p in metric["chart"]}
        assert shown["2022-12-03"] == (None, "9" * 400)  # beyond a float: not plotted
        assert shown["2022-12-01"] == (1.7e308, "1.7e+308")
        assert shown["2022-12-05"] == (None, "-")


def test_a_new_metric_charts_by_the_fields_it_declares_or_that_look_like_periods(
    tmp_path: Path, results_api: ResultsApi
) -> None:
    declared = {"metric": "signups", "chart": {"period": "bucket", "value": "total"},
                "bucket": "morning", "total": 4, "count": 99}  # fmt: skip
    post(results_api, "signups/1", declared)
    post(results_api, "monthly/1", {"metric": "monthly", "label": "x", "month": "2022-11",
                                    "sum": 12.5})  # fmt: skip
    with console_over(tmp_path, EVERY_MINUTE, results_api_url=results_api.url) as console:
        metrics = {m["metric"]: m for m in console.get("/results.json").json()["metrics"]}
        assert (metrics["signups"]["period_field"], metrics["signups"]["value_field"]) == (
            "bucket", "total",
        )  # fmt: skip
        assert metrics["signups"]["chart"][0]["value"] == 4
        assert (metrics["monthly"]["period_field"], metrics["monthly"]["value_field"]) == (
            "month", "sum",
        )  # fmt: skip
        assert metrics["monthly"]["kind"] == "line"
