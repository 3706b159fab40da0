"""``/results`` in keyset pages: a page of records at a time from a real results API.

The API answers oldest first after an id; the console's pages go newest
first, older and newer by the ids at their edges, and never miss or repeat a
record, whether results were deleted or a metric's records lie far apart.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from localbridge.console import results, views
from tests.conftest import ResultsApi
from tests.localbridge.console.support import ConsoleUnderTest, console_over
from tests.localbridge.runtime.harness import EVERY_MINUTE

PAGE = 100
LINK = re.compile(r'<a rel="(prev|next)" href="([^"]+)"')


def post_many(api: ResultsApi, bodies: list[dict[str, Any]]) -> list[int]:
    """Post ``bodies`` in order; their ids."""
    ids = []
    with requests.Session() as session:
        for body in bodies:
            answer = session.post(f"{api.url}/result", json=body, timeout=10)
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])
    return ids


def day(n: int) -> dict[str, Any]:
    return {"metric": "registrations", "date": f"2022-{1 + n // 28:02}-{1 + n % 28:02}",
            "count": n}  # fmt: skip


def links(page: str) -> dict[str, str]:
    """The page's "newer" (prev) and "older" (next) links."""
    return {rel: html.unescape(href) for rel, href in LINK.findall(page)}


def walk_older(console: ConsoleUnderTest, start: str) -> list[list[int]]:
    """The record ids of each page from ``start``, following "older" to the end."""
    pages, path = [], start
    while True:
        page = console.get(path).text
        twin = console.get(path.replace("/results", "/results.json", 1)).json()
        pages.append([r["id"] for r in twin["records"]])
        older = links(page).get("next")
        if older is None:
            return pages
        path = older


def test_pages_go_newest_first_a_hundred_at_a_time_there_and_back(
    tmp_path: Path, results_api: ResultsApi
) -> None:
    ids = post_many(results_api, [day(n) for n in range(250)])
    with console_over(tmp_path, EVERY_MINUTE, results_api_url=results_api.url) as console:
        pages = walk_older(console, "/results")
        newest_first = ids[::-1]
        assert pages == [newest_first[:PAGE], newest_first[PAGE : 2 * PAGE],
                         newest_first[2 * PAGE :]]  # fmt: skip
        first = console.get("/results").text
        assert "prev" not in links(first)  # the newest page has nothing newer
        assert first.count('action="/actions/delete-result"') == PAGE

        # Back from the oldest page: "newer" leads to the page before it, then the first.
        oldest = console.get(f"/results?before_id={newest_first[2 * PAGE - 1]}").text
        newer = links(oldest)["prev"]
        middle = console.get(newer.replace("/results", "/results.json")).json()
        assert [r["id"] for r in middle["records"]] == newest_first[PAGE : 2 * PAGE]
        newest = links(console.get(newer).text)["prev"]
        twin = console.get(newest.replace("/results", "/results.json")).json()
        assert [r["id"] for r in twin["records"]] == newest_first[:PAGE]
        assert twin["newer_after_id"] is None  # the newest page has nothing newer


def test_deleted_results_and_a_rare_metric_are_paged_without_a_gap(
    tmp_path: Path, results_api: ResultsApi
) -> None:
    rare = post_many(results_api, [{"metric": "rare", "date": "2022-12-01", "count": 7}])
    common = post_many(results_api, [day(n) for n in range(300)])
    for deleted in (common[-1], common[150]):  # the newest, and one inside a page
        assert requests.delete(f"{results_api.url}/result/{deleted}", timeout=10).status_code == 204
    kept = [i for i in common if i not in (common[-1], common[150])]
    with console_over(tmp_path, EVERY_MINUTE, results_api_url=results_api.url) as console:
        pages = walk_older(console, "/results?metric=registrations")
        assert [i for page in pages for i in page] == kept[::-1]
        assert all(len(page) <= PAGE for page in pages)
        # One record of its metric, 300 records of another after it: found, charted.
        only = console.get("/results.json?metric=rare").json()
        assert [r["id"] for r in only["records"]] == rare
        assert [m["metric"] for m in only["metrics"]] == ["rare"]
        assert only["older_before_id"] is None
        assert only["newer_after_id"] is None
        everything = console.get("/results.json").json()
        assert [m["metric"] for m in everything["metrics"]] == ["rare", "registrations"]
        assert everything["chart_records"] == len(kept) + 1
        assert everything["charts_bounded"] is False


def test_a_bad_page_id_is_refused_with_what_to_pass(
    tmp_path: Path, results_api: ResultsApi
) -> None:
    with console_over(tmp_path, EVERY_MINUTE, results_api_url=results_api.url) as console:
        answer = console.get("/results?after_id=soon")
        assert answer.status_code == 400
        assert "after_id must be" in answer.text


def test_the_charts_read_a_bounded_number_of_the_newest_records_and_say_so(
    results_api: ResultsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = post_many(results_api, [day(n) for n in range(200)])
    monkeypatch.setattr(views, "CHART_RECORDS", 150)
    view = views.results_view(results_api.url)
    assert view["chart_records"] == 150
    assert view["charts_bounded"] is True
    (chart,) = view["metrics"]
    assert [point["value"] for point in chart["chart"]] == list(range(50, 200))
    assert [r["id"] for r in view["records"]] == ids[::-1][:PAGE]
    assert view["older_before_id"] == ids[::-1][PAGE - 1]


def test_a_page_that_ran_out_of_requests_leads_on_to_the_rest(
    results_api: ResultsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    rare = post_many(results_api, [{"metric": "rare", "date": "2022-12-01", "count": 7}])
    post_many(results_api, [day(n) for n in range(400)])
    monkeypatch.setattr(results, "MAX_REQUESTS", 2)
    monkeypatch.setattr(views, "CHART_RECORDS", 10)
    view = views.results_view(results_api.url, "rare")
    assert view["records"] == []  # two windows back, nothing of it yet
    assert view["charts_bounded"] is True
    pages = 1
    while not view["records"]:
        assert view["older_before_id"] is not None, "each page leads on to the rest"
        view = views.results_view(results_api.url, "rare", view["older_before_id"])
        pages += 1
    assert [r["id"] for r in view["records"]] == rare
    assert view["older_before_id"] is None
    assert pages > 2
