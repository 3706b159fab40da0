"""The answers of POST /result, exactly: status, body and headers are the contract.

Each case is posted in this order on one kept-alive connection to a real
server (``python -m api``), as jobs post: new, repeated, conflicting, and
refused for each reason the API gives, then a post after the refusals.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.body import MAX_BODY_BYTES
from tests.api.server import ApiServer, api_server, read_answer, request_bytes

TOKEN = "s3cret"
AUTH = ("Authorization", f"Bearer {TOKEN}")
JSON_TYPE = ("Content-Type", "application/json")
DEEP = b"[" * 100_000 + b"]" * 100_000
RECEIVED_AT = re.compile(r'"received_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"')
UNAUTHORIZED = "missing or wrong bearer token: send 'Authorization: Bearer <RESULTS_API_TOKEN>'"
HINT = "send the body as JSON with 'Content-Type: application/json'"


def record(id_: int, key: str | None, result: str) -> str:
    """A stored record's text, its received_at as ``answer_text`` writes it."""
    return f'{{"id":{id_},"received_at":"T","idempotency_key":{json.dumps(key)},"result":{result}}}'


def refusal(message: str) -> str:
    return json.dumps({"error": message})


# (what, request headers, body, status, answer body); posted in this order.
CASES: list[tuple[str, list[tuple[str, str]], bytes, int, str]] = [
    ("new", [AUTH, JSON_TYPE, ("Idempotency-Key", "k1")], b'{"metric": "m", "value": 1}',
     201, record(1, "k1", '{"metric":"m","value":1}')),
    ("repeat", [AUTH, JSON_TYPE, ("Idempotency-Key", "k1")], b'{"value": 1, "metric": "m"}',
     200, record(1, "k1", '{"metric":"m","value":1}')),
    ("conflict", [AUTH, JSON_TYPE, ("Idempotency-Key", "k1")], b'{"metric": "m", "value": 2}',
     409, refusal("Idempotency-Key 'k1' was already used for a different result (id 1);"
                  " use a new key for a new result")),
    ("no key", [AUTH, JSON_TYPE], b'{"metric": "m", "value": 3}',
     201, record(2, None, '{"metric":"m","value":3}')),
    ("no token", [JSON_TYPE], b'{"value": 1}', 401, refusal(UNAUTHORIZED)),
    ("wrong token", [("Authorization", "Bearer nope"), JSON_TYPE], b'{"value": 1}',
     401, refusal(UNAUTHORIZED)),
    ("no content type", [AUTH], b'{"value": 1}', 415, refusal(f"missing Content-Type: {HINT}")),
    ("text", [AUTH, ("Content-Type", "text/plain")], b'{"value": 1}',
     415, refusal(f"unsupported Content-Type 'text/plain': {HINT}")),
    ("two types", [AUTH, JSON_TYPE, JSON_TYPE], b'{"value": 1}',
     400, refusal("send at most one Content-Type header")),
    ("bad key", [AUTH, JSON_TYPE, ("Idempotency-Key", "a\tb")], b'{"value": 1}',
     400, refusal("Idempotency-Key must be 1 to 255 printable ASCII characters, got 'a\\tb';"
                  " a key such as 'registrations_per_day/2022-12-21T00:05:00Z'")),
    ("not json", [AUTH, JSON_TYPE], b'{"value": ',
     400, refusal("body is not valid JSON: Expecting value at line 1 column 11")),
    ("empty", [AUTH, JSON_TYPE], b"   ",
     400, refusal('empty body: send a JSON object such as {"metric": "x", "value": 1}')),
    ("array", [AUTH, JSON_TYPE], b"[1, 2]",
     422, refusal("body must be a JSON object, got an array")),
    ("not utf-8", [AUTH, JSON_TYPE], b'{"metric": "\xff"}',
     400, refusal("body is not valid UTF-8 (byte 12): send UTF-8 JSON")),
    ("nan", [AUTH, JSON_TYPE], b'{"value": NaN}',
     400, refusal("body is not valid JSON: NaN is not valid JSON; send null or a finite number")),
    ("deep", [AUTH, JSON_TYPE], DEEP, 400, refusal("body nests arrays/objects too deeply")),
    ("surrogate metric", [AUTH, JSON_TYPE], b'{"metric": "\\ud800"}',
     422, refusal("metric holds a lone surrogate (\\ud800) at character 0, which is not text;"
                  " send the metric as valid Unicode")),
    ("too large", [AUTH, JSON_TYPE], b'{"x": "' + b"a" * MAX_BODY_BYTES + b'"}',
     413, refusal(f"body is larger than {MAX_BODY_BYTES} bytes: post a smaller result")),
    ("after the refusals", [AUTH, JSON_TYPE, ("Idempotency-Key", "k2")], b'{"value": 4}',
     201, record(3, "k2", '{"value":4}')),
]  # fmt: skip


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    with api_server(tmp_path / "served.db", tmp_path, RESULTS_API_TOKEN=TOKEN) as running:
        yield running


def answer_text(body: bytes) -> str:
    """The body as text, a record's received_at (checked for its form) as "T"."""
    text, found = RECEIVED_AT.subn('"received_at":"T"', body.decode())
    assert found == text.startswith('{"id":')
    return text


def test_every_answer_is_exactly_the_contract(server: ApiServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        stream = sock.makefile("rb")
        for what, headers, body, status, text in CASES:  # one kept-alive connection
            sock.sendall(request_bytes("POST", "/result", body, headers))
            answer = read_answer(stream)

            assert answer is not None, what
            assert (answer.status, answer_text(answer.body)) == (status, text), what
            expected_headers = {
                "content-type": "application/json",
                "content-length": str(len(answer.body)),
                **({"www-authenticate": "Bearer"} if status == 401 else {}),
            }
            assert {k: v for k, v in answer.headers.items() if k != "date"} == expected_headers


def test_posts_pipelined_on_one_connection_are_answered_in_order(server: ApiServer) -> None:
    posts = [
        request_bytes("POST", "/result", b'{"n": %d}' % n, [AUTH, JSON_TYPE]) for n in range(4)
    ]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"".join(posts))
        stream = sock.makefile("rb")
        answers = [read_answer(stream) for _ in posts]

    assert [a.status if a else None for a in answers] == [201] * 4
    assert [a.json()["result"]["n"] for a in answers if a] == [0, 1, 2, 3]
    ids = [a.json()["id"] for a in answers if a]
    assert ids == sorted(ids)


def test_each_post_is_counted_once_in_the_metrics(server: ApiServer) -> None:
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
