"""GET /result (filters, paging), GET /result/{id}, GET /health, docs."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.storage import SCHEMA_VERSION


def post_many(client: TestClient, metrics: list[str]) -> list[int]:
    return [
        client.post("/result", json={"metric": m, "n": n}).json()["id"]
        for n, m in enumerate(metrics)
    ]


def test_empty_store_lists_nothing(client: TestClient) -> None:
    response = client.get("/result")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == []


def test_list_is_oldest_first(client: TestClient) -> None:
    ids = post_many(client, ["a", "b", "c"])

    records = client.get("/result").json()

    assert [r["id"] for r in records] == ids == sorted(ids)
    assert [r["result"]["n"] for r in records] == [0, 1, 2]


def test_metric_filter_matches_result_metric(client: TestClient) -> None:
    post_many(client, ["weight", "registrations", "weight"])
    client.post("/result", json={"metric": 5})
    client.post("/result", json={"value": "weight"})

    weights = client.get("/result", params={"metric": "weight"}).json()

    assert [r["result"] for r in weights] == [
        {"metric": "weight", "n": 0},
        {"metric": "weight", "n": 2},
    ]
    assert client.get("/result", params={"metric": "absent"}).json() == []


def test_paging_with_limit_and_after_id_visits_every_record_once(client: TestClient) -> None:
    ids = post_many(client, ["m"] * 7)
    seen: list[int] = []
    after = 0
    while page := client.get("/result", params={"limit": 3, "after_id": after}).json():
        assert len(page) <= 3
        seen += [r["id"] for r in page]
        after = page[-1]["id"]

    assert seen == ids


def test_paging_combines_with_the_metric_filter(client: TestClient) -> None:
    ids = post_many(client, ["a", "b", "a", "b", "a"])

    page = client.get("/result", params={"metric": "a", "after_id": ids[0], "limit": 1}).json()

    assert [r["id"] for r in page] == [ids[2]]


def test_default_limit_is_1000(client: TestClient) -> None:
    for n in range(1001):
        client.post("/result", json={"n": n})

    assert len(client.get("/result").json()) == 1000
    assert len(client.get("/result", params={"limit": 10000}).json()) == 1001


def test_get_one_and_404_when_absent(client: TestClient) -> None:
    (created,) = post_many(client, ["a"])

    assert client.get(f"/result/{created}").json()["result"] == {"metric": "a", "n": 0}
    missing = client.get(f"/result/{created + 1}")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": f"no result with id {created + 1}; GET /result lists stored ids"
    }


def test_health_reports_the_store(client: TestClient, tmp_path: Path) -> None:
    post_many(client, ["a", "b"])

    health = client.get("/health")

    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "path": str(tmp_path / "results.db"),
        "results": 2,
        "schema_version": SCHEMA_VERSION,
        "journal_mode": "wal",
    }


def test_openapi_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    assert set(spec["paths"]) == {"/result", "/result/{id}", "/health", "/metrics"}
    assert set(spec["paths"]["/result"]) == {"get", "post"}
    post = spec["paths"]["/result"]["post"]
    assert {"201", "200", "409", "413", "415"} <= set(post["responses"])
    assert client.get("/docs").status_code == 200
