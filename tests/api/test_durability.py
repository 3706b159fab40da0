"""No acknowledged post is ever lost: hostile bodies in a group commit, kill -9, restart."""

from __future__ import annotations

import json
import random
import socket
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.api.server import Answer, ApiServer, api_server, read_answer, request_bytes

SURROGATE = b'{"metric": "\\ud800"}'  # valid JSON text naming a string SQLite cannot hold


def stored_records(url: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    after = 0
    while page := requests.get(f"{url}/result?after_id={after}&limit=10000", timeout=30).json():
        records += page
        after = page[-1]["id"]
    return records


def held_back(port: int, body: bytes) -> socket.socket:
    """A connection that sent a whole post but its body's last byte."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(request_bytes("POST", "/result", body)[:-1])
    return sock


def test_a_lone_surrogate_committed_with_valid_posts_loses_nothing(tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    with api_server(db, tmp_path) as server:
        valid = held_back(server.port, b'{"metric": "ok"}')
        hostile = held_back(server.port, SURROGATE)
        # Both last bytes at once: the two posts reach the writer together.
        valid.sendall(b"}")
        hostile.sendall(b"}")
        answers = [read_answer(valid), read_answer(hostile)]
        valid.close()
        hostile.close()
        later = [
            requests.post(f"{server.url}/result", json={"metric": "later", "n": n}, timeout=30)
            for n in range(10)
        ]
        server.process.kill9()

    assert [answer.status if answer else None for answer in answers] == [201, 422]
    assert answers[0] is not None
    assert answers[1] is not None
    assert "surrogate" in answers[1].json()["error"]
    assert [r.status_code for r in later] == [201] * 10
    with api_server(db, tmp_path) as restarted:
        stored = stored_records(restarted.url)
    acknowledged = [answers[0].json()] + [r.json() for r in later]
    assert stored == acknowledged


HOSTILE_BODIES = [
    SURROGATE,
    b'{"metric": "x\\udfff"}',
    b'{"a": NaN}',
    b"[1, 2]",
    b'{"a": 1e999}',
    b'{"a": "\xff"}',
    b"{",
    b'{"metric": "\\ud83d\\ude00 paired is fine"}',
    b'{"s": "\\ud800 alone, outside metric, is stored"}',
]


def post_mixed(server: ApiServer, seed: int, posts: int, acks: list[tuple[bytes, Answer]]) -> None:
    """Posts from one thread, valid ones (some under shared keys) and hostile ones,
    until the server dies; every answer goes to ``acks``."""
    chooser = random.Random(seed)
    for n in range(posts):
        if chooser.random() < 0.4:
            body = chooser.choice(HOSTILE_BODIES)
            headers = [("Content-Type", "application/json")]
        else:
            body = json.dumps({"metric": "mixed", "seed": seed, "n": n}).encode()
            key = f"shared/{chooser.randrange(20)}" if chooser.random() < 0.3 else f"own/{seed}/{n}"
            if key.startswith("shared/"):
                body = json.dumps({"metric": "mixed", "key": key}).encode()
            headers = [("Content-Type", "application/json"), ("Idempotency-Key", key)]
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
                sock.sendall(request_bytes("POST", "/result", body, headers))
                answer = read_answer(sock)
        except OSError:
            return  # the server was killed
        if answer is None:
            return
        acks.append((body, answer))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1])
def test_kill_9_under_mixed_load_keeps_every_acknowledged_post_once(
    tmp_path: Path, seed: int
) -> None:
    db = tmp_path / "results.db"
    answered: list[tuple[bytes, Answer]] = []
    with api_server(db, tmp_path) as server:
        threads = [
            threading.Thread(target=post_mixed, args=(server, seed * 100 + t, 400, answered))
            for t in range(6)
        ]
        for thread in threads:
            thread.start()
        # Kill once a good part of the load was acknowledged, while posts are in flight.
        kill_at = random.Random(seed).randrange(150, 600)
        while len(answered) < kill_at and any(t.is_alive() for t in threads):
            threads[0].join(timeout=0.01)
        server.process.kill9()
        for thread in threads:
            thread.join(timeout=60)

    with api_server(db, tmp_path) as restarted:
        stored = {record["id"]: record for record in stored_records(restarted.url)}
    acks = [(body, answer) for body, answer in answered if answer.status < 300]
    assert len(acks) >= min(kill_at, 100) // 2
    for body, answer in acks:
        record = answer.json()
        assert stored[record["id"]] == record
        assert record["result"] == json.loads(body)
    keys = Counter(record["idempotency_key"] for record in stored.values())
    assert all(count == 1 for key, count in keys.items() if key is not None)
    assert not any(r["result"].get("metric") == "\ud800" for r in stored.values())
    assert {answer.status for _, answer in answered} <= {200, 201, 400, 409, 422}
