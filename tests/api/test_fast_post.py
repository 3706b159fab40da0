"""The server answers plain posts from its HTTP protocol (api/fast_post.py): the same answers
as the ASGI endpoint gives, which in-process clients and every other post still use."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.body import MAX_BODY_BYTES
from tests.api.conftest import ClientFactory
from tests.api.server import ApiServer, api_server, read_answer, request_bytes

TOKEN = "s3cret"
AUTH = ("Authorization", f"Bearer {TOKEN}")
JSON_TYPE = ("Content-Type", "application/json")
DEEP = b"[" * 100_000 + b"]" * 100_000

# (what, headers, body): posted in this order to both servers, each on its own store.
CASES: list[tuple[str, list[tuple[str, str]], bytes]] = [
    ("new", [AUTH, JSON_TYPE, ("Idempotency-Key", "k1")], b'{"metric": "m", "value": 1}'),
    ("repeat", [AUTH, JSON_TYPE, ("Idempotency-Key", "k1")], b'{"value": 1, "metric": "m"}'),
    ("conflict", [AUTH, JSON_TYPE, ("Idempotency-Key", "k1")], b'{"metric": "m", "value": 2}'),
    ("no key", [AUTH, JSON_TYPE], b'{"metric": "m", "value": 3}'),
    ("no token", [JSON_TYPE], b'{"value": 1}'),
    ("wrong token", [("Authorization", "Bearer nope"), JSON_TYPE], b'{"value": 1}'),
    ("no content type", [AUTH], b'{"value": 1}'),
    ("text", [AUTH, ("Content-Type", "text/plain")], b'{"value": 1}'),
    ("two types", [AUTH, JSON_TYPE, JSON_TYPE], b'{"value": 1}'),
    ("bad key", [AUTH, JSON_TYPE, ("Idempotency-Key", "a\tb")], b'{"value": 1}'),
    ("not json", [AUTH, JSON_TYPE], b'{"value": '),
    ("empty", [AUTH, JSON_TYPE], b"   "),
    ("array", [AUTH, JSON_TYPE], b"[1, 2]"),
    ("not utf-8", [AUTH, JSON_TYPE], b'{"metric": "\xff"}'),
    ("nan", [AUTH, JSON_TYPE], b'{"value": NaN}'),
    ("deep", [AUTH, JSON_TYPE], DEEP),
    ("surrogate metric", [AUTH, JSON_TYPE], b'{"metric": "\\ud800"}'),
    ("too large", [AUTH, JSON_TYPE], b'{"x": "' + b"a" * MAX_BODY_BYTES + b'"}'),
    ("after the refusals", [AUTH, JSON_TYPE, ("Idempotency-Key", "k2")], b'{"value": 4}'),
]


def comparable(status: int, headers: dict[str, str], body: bytes) -> tuple[int, Any, str | None]:
    """Status, JSON body (its received_at aside: the two clocks differ), challenge header."""
    document = json.loads(body)
    if isinstance(document, dict):
        document.pop("received_at", None)
    return status, document, headers.get("www-authenticate")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    with api_server(tmp_path / "served.db", tmp_path, RESULTS_API_TOKEN=TOKEN) as running:
        yield running


def test_plain_posts_get_the_endpoints_answers(
    server: ApiServer, make_client: ClientFactory
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        stream = sock.makefile("rb")
        served = []
        for _, headers, body in CASES:  # one kept-alive connection, as clients post
            sock.sendall(request_bytes("POST", "/result", body, headers))
            answer = read_answer(stream)
            assert answer is not None
            served.append(comparable(answer.status, answer.headers, answer.body))
    with make_client(token=TOKEN) as client:
        endpoint = [asgi_answer(client, headers, body) for _, headers, body in CASES]

    for (what, *_), fast, asgi in zip(CASES, served, endpoint, strict=True):
        assert fast == asgi, what
    assert [status for status, *_ in served] == [
        201, 200, 409, 201, 401, 401, 415, 415, 400, 400, 400, 400, 422, 400, 400, 400, 422,
        413, 201,
    ]  # fmt: skip


def asgi_answer(
    client: TestClient, headers: list[tuple[str, str]], body: bytes
) -> tuple[int, Any, str | None]:
    response = client.post("/result", content=body, headers=headers)
    lowered = {name.lower(): value for name, value in response.headers.items()}
    return comparable(response.status_code, lowered, response.content)


def test_posts_pipelined_behind_a_plain_post_are_answered_in_order(server: ApiServer) -> None:
    posts = [
        request_bytes("POST", "/result", b'{"n": %d}' % n, [AUTH, JSON_TYPE]) for n in range(4)
    ]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"".join(posts))  # the first is answered by the protocol, the rest queue
        stream = sock.makefile("rb")
        answers = [read_answer(stream) for _ in posts]

    assert [a.status if a else None for a in answers] == [201] * 4
    assert [a.json()["result"]["n"] for a in answers if a] == [0, 1, 2, 3]
    ids = [a.json()["id"] for a in answers if a]
    assert ids == sorted(ids)


def test_a_plain_post_is_counted_in_the_metrics(server: ApiServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        stream = sock.makefile("rb")
        for body in (b'{"n": 1}', b"[]"):
            sock.sendall(request_bytes("POST", "/result", body, [AUTH, JSON_TYPE]))
            assert read_answer(stream) is not None
        sock.sendall(request_bytes("GET", "/metrics"))
        metrics = read_answer(stream)

    assert metrics is not None
    text = metrics.body.decode()
    assert 'results_api_requests_total{method="POST",route="/result",status="201"} 1.0' in text
    assert 'results_api_requests_total{method="POST",route="/result",status="422"} 1.0' in text
