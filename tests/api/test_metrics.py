"""GET /metrics: request counts by route template, durations, the stored-results gauge."""

from __future__ import annotations

from pathlib import Path

import requests
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.settings import Settings
from tests.api.conftest import ClientFactory
from tests.api.server import api_server, exchange, request_bytes

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def requests_total(found: Samples, method: str, route: str, status: int) -> float:
    labels = frozenset({"method": method, "route": route, "status": str(status)}.items())
    return found.get(("results_api_requests_total", labels), 0.0)


def test_requests_are_counted_by_route_template_and_status(client: TestClient) -> None:
    first = client.post("/result", json={"metric": "m"}).json()["id"]
    client.post("/result", json={"metric": "m"})
    client.post("/result", content=b"{", headers={"Content-Type": "application/json"})
    client.get(f"/result/{first}")
    client.get("/result/999")
    client.delete(f"/result/{first}")
    for path in ("/nowhere", "/result/1/x", "/.env"):
        client.get(path)

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    found = samples(response.text)
    assert requests_total(found, "POST", "/result", 201) == 2
    assert requests_total(found, "POST", "/result", 400) == 1
    assert requests_total(found, "GET", "/result/{id}", 200) == 1
    assert requests_total(found, "GET", "/result/{id}", 404) == 1
    assert requests_total(found, "DELETE", "/result/{id}", 204) == 1
    assert requests_total(found, "GET", "unmatched", 404) == 3  # one label for every path
    routes = {dict(labels)["route"] for name, labels in found if "route" in dict(labels)}
    assert routes == {"/result", "/result/{id}", "unmatched"}


def test_durations_are_a_histogram_by_method_and_route(client: TestClient) -> None:
    for _ in range(3):
        client.post("/result", json={"metric": "m"})

    found = samples(client.get("/metrics").text)

    labels = frozenset({"method": "POST", "route": "/result"}.items())
    assert found[("results_api_request_duration_seconds_count", labels)] == 3
    assert found[("results_api_request_duration_seconds_sum", labels)] > 0
    inf = frozenset({**dict(labels), "le": "+Inf"}.items())
    assert found[("results_api_request_duration_seconds_bucket", inf)] == 3


def test_the_results_gauge_counts_the_store_at_scrape_time(client: TestClient) -> None:
    ids = [client.post("/result", json={"metric": "m"}).json()["id"] for _ in range(4)]
    assert samples(client.get("/metrics").text)[("results_api_results", frozenset())] == 4

    client.delete(f"/result/{ids[0]}")

    assert samples(client.get("/metrics").text)[("results_api_results", frozenset())] == 3


def test_each_app_has_its_own_registry(tmp_path: Path, make_client: ClientFactory) -> None:
    other = create_app(Settings(db_path=tmp_path / "other.db"))
    with make_client() as first, TestClient(other) as second:
        first.post("/result", json={"metric": "m"})

        counted = samples(second.get("/metrics").text)

    assert requests_total(counted, "POST", "/result", 201) == 0
    assert counted[("results_api_results", frozenset())] == 0


def test_metrics_needs_no_token(make_client: ClientFactory) -> None:
    with make_client(token="s3cret") as client:
        assert client.get("/metrics").status_code == 200


def test_a_real_server_counts_raw_requests(tmp_path: Path) -> None:
    with api_server(tmp_path / "results.db", tmp_path) as server:
        body = b'{"metric":"m"}'
        assert exchange(server.port, request_bytes("POST", "/result", body)).status == 201  # type: ignore[union-attr]
        weird = exchange(server.port, request_bytes("PROPFIND", "/result/1"))
        assert weird is not None
        assert weird.status == 405

        text = requests.get(f"{server.url}/metrics", timeout=10).text

    found = samples(text)
    assert requests_total(found, "POST", "/result", 201) == 1
    assert requests_total(found, "OTHER", "/result/{id}", 405) == 1
    assert found[("results_api_results", frozenset())] == 1
