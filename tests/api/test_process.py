"""The real server: ``python -m api`` processes on 127.0.0.1 over one SQLite file."""

from __future__ import annotations

import select
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests

from api.body import MAX_BODY_BYTES
from tests.api.server import api_server, exchange
from tests.conftest import ResultsApi
from tests.support import ROOT, free_port, python_env


@contextmanager
def api_process(db_path: Path, log_dir: Path, **env: str) -> Iterator[str]:
    """Another ``python -m api`` on a free port over ``db_path``; yields its URL."""
    with api_server(db_path, log_dir, **env) as server:
        yield server.url


def post(url: str, body: dict[str, Any], key: str | None = None) -> requests.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return requests.post(f"{url}/result", json=body, headers=headers, timeout=10)


def results(url: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = requests.get(f"{url}/result", timeout=10).json()
    return listed


def test_serves_every_endpoint(results_api: ResultsApi) -> None:
    created = post(results_api.url, {"metric": "registrations", "count": 3}, key="f/1")
    repeated = post(results_api.url, {"count": 3, "metric": "registrations"}, key="f/1")
    conflict = post(results_api.url, {"metric": "registrations", "count": 4}, key="f/1")
    one = requests.get(f"{results_api.url}/result/{created.json()['id']}", timeout=10)
    health = requests.get(f"{results_api.url}/health", timeout=10).json()
    missing = requests.get(f"{results_api.url}/nowhere", timeout=10)

    assert [created.status_code, repeated.status_code, conflict.status_code] == [201, 200, 409]
    assert one.json() == created.json() == repeated.json()
    assert results(results_api.url) == [created.json()]
    assert (health["path"], health["results"]) == (str(results_api.db_path), 1)
    assert missing.status_code == 404
    assert "error" in missing.json()


def test_results_survive_a_restart(results_api: ResultsApi, tmp_path: Path) -> None:
    records = [post(results_api.url, {"metric": "m", "n": n}).json() for n in range(5)]
    # uvicorn re-raises SIGTERM once it has shut down cleanly.
    assert results_api.process.stop() in {0, -signal.SIGTERM}
    # Closing the store's last connection checkpoints the WAL into the file.
    assert not results_api.db_path.with_name("results.db-wal").exists()

    with api_process(results_api.db_path, tmp_path) as url:
        assert results(url) == records
        assert post(url, {"metric": "m", "n": 5}).json()["id"] == records[-1]["id"] + 1


def test_acknowledged_results_survive_kill_9(results_api: ResultsApi, tmp_path: Path) -> None:
    acknowledged = []
    for n in range(50):
        response = post(results_api.url, {"metric": "m", "n": n}, key=f"k/{n}")
        assert response.status_code == 201
        acknowledged.append(response.json())

    results_api.process.kill9()
    # The rows live only in the write-ahead log: nothing checkpointed them.
    assert results_api.db_path.with_name("results.db-wal").stat().st_size > 0

    with api_process(results_api.db_path, tmp_path) as url:
        assert results(url) == acknowledged
        assert post(url, {"metric": "m", "n": 0}, key="k/0").json() == acknowledged[0]


def test_token_protects_post_on_the_real_server(tmp_path: Path) -> None:
    token = "s3cret-pässwörd"
    with api_process(tmp_path / "results.db", tmp_path, RESULTS_API_TOKEN=token) as url:

        def post_with(authorization: bytes) -> requests.Response:
            headers = {"Authorization": authorization}
            return requests.post(f"{url}/result", json={"a": 1}, headers=headers, timeout=10)

        refused = post(url, {"a": 1})
        # The token's UTF-8 bytes match; the same characters in Latin-1 do not.
        latin1 = post_with(f"Bearer {token}".encode("latin-1"))
        accepted = post_with(f"Bearer {token}".encode())
        listed = results(url)

    assert (refused.status_code, latin1.status_code) == (401, 401)
    assert "Bearer" in refused.json()["error"]
    assert accepted.status_code == 201
    assert listed == [accepted.json()]


def test_endless_chunked_body_is_refused_while_it_arrives(results_api: ResultsApi) -> None:
    host, port = results_api.url.removeprefix("http://").split(":")
    chunk = b"x" * 65536
    offered = 0
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /result HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        # The body never ends: only a server that refuses while reading answers at all.
        while offered < 64 * MAX_BODY_BYTES and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            offered += len(chunk)
        answer = read_http_response(sock)

    assert offered < 64 * MAX_BODY_BYTES
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b'"error"' in answer


def read_http_response(sock: socket.socket) -> bytes:
    received = b""
    while b"}" not in received:
        data = sock.recv(65536)
        if not data:
            break
        received += data
    return received


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "web"}, "PORT must be a number"),
        ({"RESULTS_DB": "."}, "cannot open results database"),
        ({"RESULTS_API_TOKEN": " s3cret "}, "RESULTS_API_TOKEN has whitespace around it"),
    ],
)
def test_bad_configuration_exits_with_a_clear_message(env: dict[str, str], message: str) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "api"],
        cwd=ROOT,
        env=python_env({"PORT": str(free_port()), **env}),
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert finished.returncode == 2
    assert message in finished.stderr


@pytest.mark.slow
def test_concurrent_posts_are_each_stored_exactly_once(results_api: ResultsApi) -> None:
    threads, per_thread, shared_keys = 8, 40, 20

    def client(thread: int) -> list[tuple[str | None, int, dict[str, Any]]]:
        seen = []
        with requests.Session() as session:
            for n in range(per_thread):
                # Every third post reuses a key other threads also post under.
                key = f"shared/{n % shared_keys}" if n % 3 == 0 else None
                body = (
                    {"metric": "load", "key": key}
                    if key
                    else {"metric": "load", "t": thread, "n": n}
                )
                headers = {"Idempotency-Key": key} if key else {}
                response = session.post(
                    f"{results_api.url}/result", json=body, headers=headers, timeout=30
                )
                seen.append((key, response.status_code, response.json()))
        return seen

    with ThreadPoolExecutor(threads) as pool:
        answers = [a for batch in pool.map(client, range(threads)) for a in batch]

    stored = requests.get(f"{results_api.url}/result?limit=10000", timeout=30).json()
    stored_by_id = {record["id"]: record for record in stored}
    assert len(answers) == threads * per_thread
    assert {status for _, status, _ in answers} <= {200, 201}
    for _, _, record in answers:
        assert stored_by_id[record["id"]] == record
    created_per_key = Counter(key for key, status, _ in answers if key and status == 201)
    keys_posted = {key for key, _, _ in answers if key}
    assert created_per_key == dict.fromkeys(keys_posted, 1)
    unkeyed = [record["id"] for key, _, record in answers if key is None]
    assert len(stored) == len(set(unkeyed)) + len(keys_posted) == len(unkeyed) + len(keys_posted)


def test_an_empty_token_is_said_at_start(tmp_path: Path) -> None:
    with api_server(tmp_path / "results.db", tmp_path, RESULTS_API_TOKEN="") as server:
        open_post = post(server.url, {"a": 1})
        log = server.process.log()

    assert open_post.status_code == 201
    assert "warning: RESULTS_API_TOKEN is set but empty" in log


@pytest.mark.parametrize(
    ("framing", "reason"),
    [
        ("Content-Length: 2\r\nTransfer-Encoding: chunked", "Transfer-Encoding"),
        ("Transfer-Encoding: chunked\r\nContent-Length: 2", "Content-Length"),
        ("Content-Length: 2\r\nContent-Length: 3", "Content-Length"),
    ],
    ids=["length-then-chunked", "chunked-then-length", "two-lengths"],
)
def test_ambiguous_body_framing_is_refused_with_400(
    results_api: ResultsApi, framing: str, reason: str
) -> None:
    port = int(results_api.url.rsplit(":", 1)[1])
    raw = (
        "POST /result HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n"
    ).encode()

    answer = exchange(port, raw)
    health = requests.get(f"{results_api.url}/health", timeout=10).json()

    assert answer is not None
    assert answer.status == 400
    assert reason in answer.json()["error"]
    assert health["results"] == 0
