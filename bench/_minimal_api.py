"""The floor the results API is compared with: a minimal Starlette app, one commit per post.

Stores each POST /result body under its Idempotency-Key with one autocommit
INSERT on the event loop (WAL, synchronous=NORMAL, like the API), and answers
201 with the id: none of the API's checks, group commit or threads. Served by
uvicorn on uvloop + httptools. Run as ``python -m bench._minimal_api`` with
PORT and RESULTS_DB set.
"""

from __future__ import annotations

import json
import os
import sqlite3

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def build(path: str) -> Starlette:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS result (id INTEGER PRIMARY KEY,"
        " idempotency_key TEXT UNIQUE, body TEXT NOT NULL)"
    )

    async def post(request: Request) -> Response:
        body = json.loads(await request.body())
        row = conn.execute(
            "INSERT INTO result (idempotency_key, body) VALUES (?, ?) RETURNING id",
            (request.headers.get("idempotency-key"), json.dumps(body)),
        ).fetchone()
        return Response(json.dumps({"id": row[0]}), 201, media_type="application/json")

    async def health(request: Request) -> Response:
        count = conn.execute("SELECT count(*) FROM result").fetchone()[0]
        return Response(json.dumps({"results": count}), media_type="application/json")

    return Starlette(routes=[Route("/result", post, methods=["POST"]), Route("/health", health)])


if __name__ == "__main__":
    uvicorn.run(
        build(os.environ["RESULTS_DB"]),
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        loop="uvloop",
        http="httptools",
        log_level="warning",
    )
