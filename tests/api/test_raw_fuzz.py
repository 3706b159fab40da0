"""Raw-request fuzzing of the real server: 1,200 seeded requests, each followed by /health.

Each request is built from a seeded generator (valid posts, hostile bodies,
ambiguous or broken framing, junk request lines, cut-off requests, pipelining)
and sent on its own connection. After each one the server must answer /health;
no answer may be a 5xx, every 4xx must be a JSON error, and at the end, after a
kill -9 and a restart, the store holds exactly the acknowledged posts.
"""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.api.server import Answer, api_server, exchange, read_answer, request_bytes
from tests.api.test_durability import stored_records

SEED = 20221221
REQUESTS = 1200
TOKEN = "fuzz-t0ken"
CHUNKED = ("Transfer-Encoding", "chunked")
HOSTILE = [
    b'{"metric": "\\ud800"}',
    b'{"metric": "a\\udc00b", "n": 1}',
    b'{"a": NaN}',
    b'{"a": -Infinity}',
    b'{"a": 1e400}',
    b'{"a": "\xc3\x28"}',
    b"{",
    b"",
    b"   ",
    b"[" * 5000 + b"]" * 5000,
    b'{"a": ' + b"9" * 5000 + b"}",
    b"null",
    b'"text"',
    b"\x00\x01\x02",
    b'{"a": 1} trailing',
]
JUNK_LINES = [
    b"GARBAGE\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"POST /result HTTP/1.1\r\nHost: localhost\r\nContent-Length: -5\r\n\r\n",
    b"POST /result HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1x\r\n\r\n",
    b"POST /result HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET /result HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n",
    b"\r\n\r\n\r\n",
    b"GET /%zz HTTP/1.1\r\nHost: localhost\r\n\r\n",
    b"GET /result?limit=%ff%fe HTTP/1.1\r\nHost: localhost\r\n\r\n",
]


@dataclass
class Ledger:
    """What the server acknowledged: records by id, and the record each key maps to."""

    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)

    def note(self, body: bytes, key: str | None, answer: Answer) -> None:
        record = answer.json()
        if answer.status == 201:
            assert record["id"] not in self.records
            assert record["result"] == json.loads(body)
            self.records[record["id"]] = record
            if key is not None:
                assert key not in self.by_key
                self.by_key[key] = record
        elif answer.status == 200:
            assert key is not None
            assert self.by_key[key] == record


def json_object(chooser: random.Random) -> dict[str, Any]:
    values: list[Any] = [
        None,
        True,
        chooser.randint(-(2**70), 2**70),
        chooser.uniform(-1e9, 1e9),
        "".join(chr(chooser.randrange(0x20, 0x2FFF)) for _ in range(chooser.randrange(8))),
        [1, "two", {"three": 3}],
    ]
    body = {f"k{n}": chooser.choice(values) for n in range(chooser.randrange(5))}
    if chooser.random() < 0.8:
        body["metric"] = chooser.choice(["registrations", "average_weight", "zoë", ""])
    return body


def post_headers(chooser: random.Random, key: str | None) -> list[tuple[str, str]]:
    headers = [("Content-Type", chooser.choice(["application/json", "application/x+json"]))]
    if chooser.random() < 0.9:
        headers.append(("Authorization", f"Bearer {TOKEN}"))
    if key is not None:
        headers.append(("Idempotency-Key", key))
    return headers


Case = tuple[bytes, list[tuple[bytes, str | None]], bool]  # raw, posts it holds, cut off


def valid_post(chooser: random.Random) -> Case:
    key = f"fuzz/{chooser.randrange(60)}" if chooser.random() < 0.6 else None
    body = json.dumps(json_object(chooser)).encode()
    if key is not None and chooser.random() < 0.5:  # the same value under a reused key
        body = json.dumps({"metric": "keyed", "key": key}).encode()
    return request_bytes("POST", "/result", body, post_headers(chooser, key)), [(body, key)], False


def hostile_post(chooser: random.Random) -> Case:
    body = chooser.choice(HOSTILE)
    return request_bytes("POST", "/result", body, post_headers(chooser, None)), [], False


def odd_headers(chooser: random.Random) -> Case:
    body = b'{"metric": "odd"}'
    headers = chooser.choice(
        [
            [("Content-Type", "application/json")] * 2,
            [("Authorization", f"Bearer {TOKEN}")] * 2 + [("Content-Type", "application/json")],
            [
                ("Content-Type", "application/json"),
                ("Content-Length", "17"),
                ("Transfer-Encoding", "chunked"),
            ],
            [("Content-Type", "text/plain"), ("Authorization", f"Bearer {TOKEN}")],
            [("Content-Type", "application/json"), ("Idempotency-Key", "é\x01")],
            [("Content-Type", "application/json"), ("Authorization", "Bearer wrong")],
            [("Content-Type", "application/json"), ("X-Big", "b" * 20000)],
            [("Content-Type", "application/json; charset=latin-1")],
        ]
    )
    return request_bytes("POST", "/result", body, headers), [], False


def chunked_post(chooser: random.Random) -> Case:
    body = json.dumps(json_object(chooser)).encode()
    cut = chooser.randrange(1, len(body)) if len(body) > 1 else 1
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (body[:cut], body[cut:]) if p)
    headers = [*post_headers(chooser, None), ("Transfer-Encoding", "chunked")]
    return request_bytes("POST", "/result", chunks + b"0\r\n\r\n", headers), [(body, None)], False


def too_large(chooser: random.Random) -> Case:
    body = b'{"a": "' + b"x" * (1024 * 1024 + chooser.randrange(1, 5000)) + b'"}'
    return request_bytes("POST", "/result", body, post_headers(chooser, None)), [], False


def reads(chooser: random.Random) -> Case:
    path = chooser.choice(
        [
            "/result",
            "/result?limit=3",
            "/result?metric=zo%C3%AB",
            "/result?after_id=2&limit=1",
            "/result/1",
            "/result/0",
            "/result/abc",
            "/health",
            "/nowhere",
            "/docs",
            "/result?limit=0",
        ]
    )
    method = chooser.choice(["GET", "GET", "GET", "DELETE", "PUT", "HEAD"])
    return request_bytes(method, path, b"", []), [], False


def junk(chooser: random.Random) -> Case:
    # Sent as a client that then stops: a blank or partial head only ends by a timeout.
    return chooser.choice(JUNK_LINES), [], True


def cut_off(chooser: random.Random) -> Case:
    raw, _, _ = valid_post(chooser)
    return raw[: chooser.randrange(1, len(raw))], [], True


KINDS: list[tuple[float, Callable[[random.Random], Case]]] = [
    (0.35, valid_post),
    (0.15, hostile_post),
    (0.12, odd_headers),
    (0.06, chunked_post),
    (0.01, too_large),
    (0.12, reads),
    (0.08, junk),
    (0.11, cut_off),
]


def send(port: int, raw: bytes, cut: bool) -> Answer | None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        if cut:
            sock.shutdown(socket.SHUT_WR)  # the client gives up mid-request
        return read_answer(sock, head=raw.startswith(b"HEAD "))


def check_answer(answer: Answer | None, cut: bool, raw: bytes) -> None:
    if answer is None:
        assert cut, f"no answer to {raw[:200]!r}"
        return
    assert answer.status < 500, (raw[:200], answer)
    if answer.status >= 400 and raw[:5] != b"HEAD ":
        assert set(answer.json()) == {"error"}, (raw[:200], answer)


def test_raw_requests_never_fail_the_server_or_lose_a_post(tmp_path: Path) -> None:
    chooser = random.Random(SEED)
    ledger = Ledger()
    db = tmp_path / "results.db"
    weights, kinds = zip(*KINDS, strict=True)
    with api_server(db, tmp_path, RESULTS_API_TOKEN=TOKEN) as server:
        for _ in range(REQUESTS):
            raw, posts, cut = chooser.choices(kinds, weights)[0](chooser)
            answer = send(server.port, raw, cut)
            check_answer(answer, cut, raw)
            if posts and answer is not None and answer.status in {200, 201}:
                ((body, key),) = posts
                ledger.note(body, key, answer)
            health = exchange(server.port, request_bytes("GET", "/health", b"", []), timeout=5)
            assert health is not None
            assert health.status == 200
        assert "Traceback" not in server.process.log()
        server.process.kill9()

    with api_server(db, tmp_path, RESULTS_API_TOKEN=TOKEN) as restarted:
        stored = stored_records(restarted.url)
        assert requests.get(f"{restarted.url}/health", timeout=10).status_code == 200
    assert len(ledger.records) > REQUESTS // 5
    assert {record["id"]: record for record in stored} == ledger.records
