"""POST /result: storing, idempotency, authentication."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import JSON, ClientFactory

RESULT = {"metric": "registrations", "date": "2022-12-21", "count": 42}


def post(client: TestClient, body: object, key: str | None = None, **headers: str) -> object:
    sent = {**JSON, **headers, **({"Idempotency-Key": key} if key else {})}
    return client.post("/result", content=json.dumps(body), headers=sent)


def test_post_stores_and_returns_the_record(client: TestClient) -> None:
    response = client.post("/result", json=RESULT)

    assert response.status_code == 201
    assert response.json() == {
        "id": 1,
        "received_at": "2022-12-21T00:05:00.000000Z",
        "idempotency_key": None,
        "result": RESULT,
    }
    assert client.get("/result/1").json() == response.json()


def test_posts_get_increasing_ids_and_times(client: TestClient) -> None:
    first = client.post("/result", json={"n": 1}).json()
    second = client.post("/result", json={"n": 2}).json()

    assert second["id"] > first["id"]
    assert second["received_at"] > first["received_at"]


def test_result_keeps_nested_values_and_unicode(client: TestClient) -> None:
    body = {"metric": "x", "nested": {"list": [1, 2.5, None, True]}, "name": "Zoë \U0001f600"}

    record = client.post("/result", json=body).json()

    assert record["result"] == body
    assert client.get(f"/result/{record['id']}").json()["result"] == body


def test_repeat_with_same_key_and_same_value_returns_the_original(client: TestClient) -> None:
    key = "registrations_per_day/2022-12-22T00:05:00Z"
    first = client.post("/result", json=RESULT, headers={"Idempotency-Key": key})
    # The same JSON value written differently: other key order and whitespace.
    reordered = json.dumps(dict(reversed(RESULT.items())), indent=2)
    repeat = client.post("/result", content=reordered, headers={**JSON, "Idempotency-Key": key})

    assert first.status_code == 201
    assert repeat.status_code == 200
    assert repeat.json() == first.json()
    assert first.json()["idempotency_key"] == key
    assert len(client.get("/result").json()) == 1


def test_same_key_with_different_value_is_a_conflict(client: TestClient) -> None:
    client.post("/result", json=RESULT, headers={"Idempotency-Key": "k/1"})

    conflict = client.post(
        "/result", json={**RESULT, "count": 43}, headers={"Idempotency-Key": "k/1"}
    )

    assert conflict.status_code == 409
    assert "k/1" in conflict.json()["error"]
    assert [r["result"] for r in client.get("/result").json()] == [RESULT]


def test_int_and_float_of_same_number_are_different_values(client: TestClient) -> None:
    client.post("/result", json={"value": 1}, headers={"Idempotency-Key": "k"})

    assert (
        client.post("/result", json={"value": 1.0}, headers={"Idempotency-Key": "k"}).status_code
        == 409
    )


def test_different_keys_store_equal_bodies_twice(client: TestClient) -> None:
    client.post("/result", json=RESULT, headers={"Idempotency-Key": "a"})
    client.post("/result", json=RESULT, headers={"Idempotency-Key": "b"})

    assert len(client.get("/result").json()) == 2


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "tab\there", "é-not-ascii"],
    ids=["empty", "too-long", "control-char", "non-ascii"],
)
def test_unusable_idempotency_key_is_refused(client: TestClient, key: str) -> None:
    response = client.post("/result", json=RESULT, headers={"Idempotency-Key": key.encode("utf-8")})

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]
    assert client.get("/result").json() == []


def test_two_idempotency_keys_are_refused(client: TestClient) -> None:
    headers = [
        ("Content-Type", "application/json"),
        ("Idempotency-Key", "a"),
        ("Idempotency-Key", "b"),
    ]

    response = client.post("/result", content=b"{}", headers=headers)

    assert response.status_code == 400
    assert "at most one Idempotency-Key" in response.json()["error"]


def test_token_required_on_post_when_configured(make_client: ClientFactory) -> None:
    with make_client(token="s3cret") as client:
        missing = client.post("/result", json=RESULT)
        wrong = client.post("/result", json=RESULT, headers={"Authorization": "Bearer nope"})
        other_scheme = client.post(
            "/result", json=RESULT, headers={"Authorization": "Basic s3cret"}
        )
        right = client.post("/result", json=RESULT, headers={"Authorization": "Bearer s3cret"})
        reads = [client.get(path).status_code for path in ("/result", "/result/1", "/health")]

    for refused in (missing, wrong, other_scheme):
        assert refused.status_code == 401
        assert "Bearer" in refused.json()["error"]
        assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert right.status_code == 201
    assert reads == [200, 200, 200]


def test_token_is_checked_before_the_body(make_client: ClientFactory) -> None:
    with make_client(token="s3cret") as client:
        response = client.post("/result", content=b"not json", headers=JSON)

    assert response.status_code == 401


def test_lone_surrogate_escape_is_stored_and_returned(client: TestClient) -> None:
    body = b'{"s": "\\ud800 alone"}'

    record = client.post("/result", content=body, headers=JSON).json()

    assert client.get(f"/result/{record['id']}").json()["result"] == {"s": "\ud800 alone"}
