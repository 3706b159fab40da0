"""DELETE /result/{id}: the token like POST, 204 or 404, and the key freed."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import ClientFactory

TOKEN = {"Authorization": "Bearer s3cret"}


def test_delete_removes_the_result_and_answers_204(client: TestClient) -> None:
    kept = client.post("/result", json={"metric": "m", "n": 1}).json()["id"]
    junk = client.post("/result", json={"metric": "m", "n": 2}).json()["id"]

    response = client.delete(f"/result/{junk}")

    assert response.status_code == 204
    assert response.content == b""
    assert client.get(f"/result/{junk}").status_code == 404
    assert [r["id"] for r in client.get("/result").json()] == [kept]
    assert client.get("/health").json()["results"] == 1


def test_deleting_what_is_not_there_is_404(client: TestClient) -> None:
    posted = client.post("/result", json={"metric": "m"}).json()["id"]
    client.delete(f"/result/{posted}")

    for result_id in (posted, 999):
        response = client.delete(f"/result/{result_id}")
        assert response.status_code == 404
        assert response.json() == {
            "error": f"no result with id {result_id}; GET /result lists stored ids"
        }


@pytest.mark.parametrize("bad", ["abc", "0", "-1", str(2**63)])
def test_a_bad_id_is_422_naming_it(client: TestClient, bad: str) -> None:
    response = client.delete(f"/result/{bad}")

    assert response.status_code == 422
    assert "path parameter 'id'" in response.json()["error"]


def test_deleting_frees_the_idempotency_key(client: TestClient) -> None:
    key = {"Idempotency-Key": "registrations_per_day/2022-12-21T00:05:00Z"}
    first = client.post("/result", json={"metric": "m", "count": 1}, headers=key).json()
    client.delete(f"/result/{first['id']}")

    again = client.post("/result", json={"metric": "m", "count": 2}, headers=key)

    assert again.status_code == 201  # stored anew, not a 409 against the deleted one
    assert again.json()["id"] > first["id"]
    assert again.json()["result"]["count"] == 2


def test_delete_needs_the_token_when_one_is_set(make_client: ClientFactory) -> None:
    with make_client(token="s3cret") as client:
        posted = client.post("/result", json={"metric": "m"}, headers=TOKEN).json()["id"]

        refusals = [
            client.delete(f"/result/{posted}"),
            client.delete(f"/result/{posted}", headers={"Authorization": "Bearer wrong"}),
            client.delete(f"/result/{posted}", headers={"Authorization": "Basic s3cret"}),
            client.delete("/result/not-a-number"),  # the token before the parameters
        ]

        for refused in refusals:
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == "Bearer"
            assert "RESULTS_API_TOKEN" in refused.json()["error"]
        assert client.get(f"/result/{posted}").status_code == 200
        assert client.delete(f"/result/{posted}", headers=TOKEN).status_code == 204
        assert client.get(f"/result/{posted}").status_code == 404


def test_two_authorization_headers_are_refused(make_client: ClientFactory) -> None:
    with make_client(token="s3cret") as client:
        posted = client.post("/result", json={"metric": "m"}, headers=TOKEN).json()["id"]
        headers = [("Authorization", "Bearer s3cret"), ("Authorization", "Bearer s3cret")]

        response = client.delete(f"/result/{posted}", headers=headers)

        assert response.status_code == 400
        assert "one Authorization header" in response.json()["error"]
        assert client.get(f"/result/{posted}").status_code == 200


def test_delete_is_in_the_allowed_methods_and_the_docs(client: TestClient) -> None:
    response = client.put("/result/1")

    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET"
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/result/{id}"]) == {"get", "delete"}
    assert "DELETE /result/{id}" in client.get("/nowhere").json()["error"]
