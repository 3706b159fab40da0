"""GET /result?since=&until=: received_at in [since, until), with the other filters."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

# The test clock (conftest.StepClock) stamps posts 2022-12-21T00:05:00Z, :01, :02, ...


def post_five(client: TestClient) -> list[dict[str, object]]:
    metrics = ["a", "b", "a", "b", "a"]
    return [
        client.post("/result", json={"metric": m, "n": n}).json() for n, m in enumerate(metrics)
    ]


def ids(client: TestClient, **params: object) -> list[int]:
    response = client.get("/result", params=params)
    assert response.status_code == 200, response.text
    return [r["id"] for r in response.json()]


def test_since_and_until_are_half_open(client: TestClient) -> None:
    posted = post_five(client)
    times = [p["received_at"] for p in posted]
    assert times[1] == "2022-12-21T00:05:01.000000Z"

    assert ids(client, since=times[1], until=times[3]) == [posted[1]["id"], posted[2]["id"]]
    assert ids(client, since=times[3]) == [p["id"] for p in posted[3:]]
    assert ids(client, until=times[1]) == [posted[0]["id"]]


def test_instants_in_any_zone_and_precision_compare_as_times(client: TestClient) -> None:
    posted = post_five(client)

    # 01:05:02+01:00 is 00:05:02Z; without fractional seconds.
    assert ids(client, since="2022-12-21T01:05:02+01:00") == [p["id"] for p in posted[2:]]
    assert ids(client, until="2022-12-21T00:05:00.5Z") == [posted[0]["id"]]


def test_time_filters_combine_with_metric_and_paging(client: TestClient) -> None:
    posted = post_five(client)
    since = posted[1]["received_at"]

    assert ids(client, metric="a", since=since) == [posted[2]["id"], posted[4]["id"]]
    first = ids(client, since=since, limit=2)
    assert first == [posted[1]["id"], posted[2]["id"]]
    assert ids(client, since=since, limit=2, after_id=first[-1]) == [
        posted[3]["id"],
        posted[4]["id"],
    ]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2022-13-01T00:00:00Z"}, "until"),
        ({"since": "2022-12-21"}, "since"),  # a date is not an instant: which zone?
        ({"until": "2022-12-21T00:00:00"}, "until"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "since"),
        ({"since": ""}, "since"),
    ],
)
def test_a_bad_instant_is_422_naming_the_parameter(
    client: TestClient, params: dict[str, str], named: str
) -> None:
    response = client.get("/result", params=params)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error.startswith(f"query parameter {named!r}")
    assert "2022-12-21T00:00:00Z" in error  # what to send instead


def test_until_before_since_is_422(client: TestClient) -> None:
    response = client.get(
        "/result", params={"since": "2022-12-21T00:00:00Z", "until": "2022-12-20T00:00:00Z"}
    )

    assert response.status_code == 422
    error = response.json()["error"]
    assert "'until'" in error
    assert "'since'" in error
