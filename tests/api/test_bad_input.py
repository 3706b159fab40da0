"""Every kind of bad input: a clear JSON error, the right status, nothing stored."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.body import MAX_BODY_BYTES
from tests.api.conftest import JSON, ClientFactory


def assert_refused(client: TestClient, response: object, status: int, *words: str) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    message = response.json()["error"]  # type: ignore[attr-defined]
    assert isinstance(message, str)
    for word in words:
        assert word in message
    assert client.get("/health").json()["results"] == 0


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{", ["not valid JSON", "line 1"]),
        (b'{"a": 1,}', ["not valid JSON"]),
        (b"", ["empty body"]),
        (b"   ", ["empty body"]),
        (b'{"a": NaN}', ["NaN"]),
        (b'{"a": -Infinity}', ["-Infinity"]),
        (b'{"a": 1e999}', ["too large"]),
        (b'{"a": "\xff"}', ["UTF-8"]),
        (b"[" * 100_000 + b"]" * 100_000, ["too deeply"]),
        (b'{"a": ' + b"1" * 5000 + b"}", ["cannot be read"]),
        (b'{"a": 1} {"b": 2}', ["Extra data"]),
    ],
    ids=[
        "truncated",
        "trailing-comma",
        "empty",
        "blank",
        "nan",
        "infinity",
        "overflow",
        "bad-utf8",
        "deep-nesting",
        "huge-int",
        "two-documents",
    ],
)
def test_malformed_json_is_400(client: TestClient, body: bytes, words: list[str]) -> None:
    assert_refused(client, client.post("/result", content=body, headers=JSON), 400, *words)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"[1, 2]", "an array"),
        (b'"text"', "a string"),
        (b"3.5", "a number"),
        (b"true", "the boolean true"),
        (b"null", "null"),
    ],
)
def test_non_object_body_is_422_naming_what_was_sent(
    client: TestClient, body: bytes, kind: str
) -> None:
    response = client.post("/result", content=body, headers=JSON)

    assert_refused(client, response, 422, "must be a JSON object", f"got {kind}")


@pytest.mark.parametrize(
    ("content_type", "words"),
    [
        (None, ["missing Content-Type"]),
        ("text/plain", ["'text/plain'", "application/json"]),
        ("application/x-www-form-urlencoded", ["application/json"]),
        ("x+json", ["'x+json'"]),
        ("application/json; charset=latin-1", ["charset 'latin-1'"]),
    ],
)
def test_wrong_content_type_is_415(
    client: TestClient, content_type: str | None, words: list[str]
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}

    response = client.post("/result", content=b'{"a": 1}', headers=headers)

    assert_refused(client, response, 415, *words)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        "application/vnd.x+json",
    ],
)
def test_json_content_types_are_accepted(client: TestClient, content_type: str) -> None:
    response = client.post("/result", content=b'{"a": 1}', headers={"Content-Type": content_type})

    assert response.status_code == 201


def test_body_of_exactly_the_limit_is_accepted(client: TestClient) -> None:
    padding = MAX_BODY_BYTES - len(b'{"a":""}')
    body = b'{"a":"' + b"x" * padding + b'"}'

    assert len(body) == MAX_BODY_BYTES
    assert client.post("/result", content=body, headers=JSON).status_code == 201


def test_body_over_the_limit_is_413(client: TestClient) -> None:
    body = b'{"a":"' + b"x" * MAX_BODY_BYTES + b'"}'

    assert_refused(client, client.post("/result", content=body, headers=JSON), 413, "larger than")


def test_unknown_route_is_404(client: TestClient) -> None:
    response = client.get("/results")

    assert response.status_code == 404
    assert "GET /results" in response.json()["error"]
    assert "GET /result" in response.json()["error"]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/result", "GET, POST"),
        ("PUT", "/result", "GET, POST"),
        ("POST", "/result/1", "DELETE, GET"),
        ("POST", "/health", "GET"),
    ],
)
def test_wrong_method_is_405_naming_allowed_ones(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path, content=b"{}", headers=JSON)

    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
    assert response.json() == {"error": f"{method} is not allowed on {path}; use {allowed}"}


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("limit=0", "limit"),
        ("limit=10001", "limit"),
        ("limit=ten", "limit"),
        ("limit=", "limit"),
        ("after_id=-1", "after_id"),
        ("after_id=1.5", "after_id"),
        ("after_id=99999999999999999999", "after_id"),
    ],
)
def test_bad_query_parameter_is_422_naming_it(client: TestClient, query: str, name: str) -> None:
    response = client.get(f"/result?{query}")

    assert response.status_code == 422
    assert f"query parameter '{name}'" in response.json()["error"]


@pytest.mark.parametrize("path", ["/result/abc", "/result/0", "/result/99999999999999999999"])
def test_bad_result_id_is_422(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 422
    assert "path parameter 'id'" in response.json()["error"]


@pytest.mark.parametrize(
    ("headers", "name"),
    [
        ([("Content-Type", "application/json"), ("Content-Type", "text/plain")], "Content-Type"),
        ([("Content-Type", "application/json")] * 2, "Content-Type"),
        (
            [
                ("Content-Type", "application/json"),
                ("Authorization", "Bearer s3cret"),
                ("Authorization", "Bearer other"),
            ],
            "Authorization",
        ),
    ],
    ids=["content-type-differing", "content-type-twice", "authorization"],
)
def test_repeated_headers_are_400_naming_them(
    make_client: ClientFactory, headers: list[tuple[str, str]], name: str
) -> None:
    with make_client(token="s3cret") as client:
        response = client.post("/result", content=b'{"a": 1}', headers=headers)

        assert_refused(client, response, 400, f"at most one {name} header")
