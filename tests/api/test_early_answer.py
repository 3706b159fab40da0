"""An answer sent before the body was read (413, 401) reaches every common client.

The server answers as soon as the headers say no, then reads and drops the rest
of the body (up to a bound): clients that send their whole body before reading
(urllib, http.client) otherwise see a connection reset instead of the status.
"""

from __future__ import annotations

import http.client
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from api.body import MAX_BODY_BYTES
from tests.api.server import ApiServer, api_server

TOKEN = "early-answer-token"
SIZES = {"1MiB+1": MAX_BODY_BYTES + 1, "2MiB": 2 * 1024 * 1024, "10MiB": 10 * 1024 * 1024}
TRIES = 50
Client = Callable[[str, bytes, dict[str, str]], int]
JSON = {"Content-Type": "application/json"}


def with_urllib(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def with_http_client(url: str, body: bytes, headers: dict[str, str]) -> int:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("POST", "/result", body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def with_requests(url: str, body: bytes, headers: dict[str, str]) -> int:
    return requests.post(url, data=body, headers=headers, timeout=30).status_code


def with_curl(url: str, body: bytes, headers: dict[str, str]) -> int:
    args = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "@-", url]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    finished = subprocess.run(args, input=body, capture_output=True, timeout=60, check=False)
    return int(finished.stdout or b"0")


CLIENTS: dict[str, Client] = {
    "urllib": with_urllib,
    "http.client": with_http_client,
    "requests": with_requests,
    "curl": with_curl,
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    with api_server(tmp_path / "results.db", tmp_path, RESULTS_API_TOKEN=TOKEN) as started:
        yield started


@pytest.mark.slow
@pytest.mark.parametrize("client", CLIENTS.values(), ids=CLIENTS.keys())
def test_an_early_answer_is_read_by_every_client(server: ApiServer, client: Client) -> None:
    url = f"{server.url}/result"
    authorized = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    statuses: dict[str, list[int]] = {}
    for name, size in SIZES.items():
        body = b"x" * size
        statuses[name] = [client(url, body, authorized) for _ in range(TRIES)]
    # No token: 401 before the body is read, whatever its size.
    statuses["no-token"] = [client(url, b"x" * SIZES["2MiB"], JSON) for _ in range(TRIES)]

    assert statuses == {
        **{name: [413] * TRIES for name in SIZES},
        "no-token": [401] * TRIES,
    }
    assert requests.get(f"{server.url}/health", timeout=10).json()["results"] == 0


def test_a_body_past_the_drain_bound_is_cut_off(tmp_path: Path) -> None:
    with api_server(tmp_path / "results.db", tmp_path) as started:
        # Far past what the server drains: it answers, then stops reading and closes.
        body = b"x" * (64 * 1024 * 1024)
        statuses = with_requests(f"{started.url}/result", body, {"Content-Type": "text/plain"})
        healthy = requests.get(f"{started.url}/health", timeout=10).status_code

    assert statuses == 415
    assert healthy == 200
