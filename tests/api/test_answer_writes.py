"""Each answer's head leaves with its body in one write (``CoalescingTransport``):
on a kept-alive connection the answers still arrive whole and in order, a HEAD
answer (a head and no body) included, and nothing else changes on the wire."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from tests.api.server import api_server, read_answer, request_bytes


def test_pipelined_answers_arrive_whole_and_in_order(tmp_path: Path) -> None:
    post = json.dumps({"metric": "pipelined", "value": 1}).encode()
    requests = [
        request_bytes("HEAD", "/health"),
        request_bytes("POST", "/result", post, [("Content-Type", "application/json")]),
        request_bytes("HEAD", "/health"),
        request_bytes("GET", "/result?limit=5"),
    ]
    with (
        api_server(tmp_path / "results.db", tmp_path) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock,
    ):
        sock.sendall(b"".join(requests))  # all at once: answered one after another
        with sock.makefile("rb") as stream:  # one reader: answers may share a segment
            answers = [read_answer(stream, head=raw.startswith(b"HEAD")) for raw in requests]
    statuses = [None if answer is None else answer.status for answer in answers]
    # /health is GET only: a HEAD gets a 405 head and, being HEAD, no body, so
    # nothing follows the head's write: it goes out at the end of the loop step.
    assert statuses == [405, 201, 405, 200]
    assert answers[0] is not None
    assert answers[0].headers["content-type"] == "application/json"
    assert "server" not in answers[0].headers  # no "server: uvicorn" on every answer
    assert answers[3] is not None
    assert [r["result"] for r in answers[3].json()] == [{"metric": "pipelined", "value": 1}]
