"""Test support shared by every suite: real servers and processes on 127.0.0.1.

Nothing here sleeps to wait for time: ``wait_for`` polls a condition under a
deadline, and processes are stopped by their own PID.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import boto3  # type: ignore[import-untyped]
import requests

ROOT = Path(__file__).resolve().parents[1]

FAKE_AWS_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
"""Credentials and region for the AWS emulators the tests start (moto, localbridge)."""


def aws_client(service: str, endpoint_url: str) -> Any:
    """A boto3 client for ``service`` on an emulator the test started, with fake credentials."""
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name=FAKE_AWS_CREDENTIALS["AWS_DEFAULT_REGION"],
        aws_access_key_id=FAKE_AWS_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(
    condition: Callable[[], T | None], timeout: float = 10.0, what: str = "condition"
) -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        # Polling interval, not a wait for time to pass: grows to 100 ms.
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


@dataclass
class Recorded:
    """One request the RecordingServer received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class RecordingServer:
    """A real HTTP server on 127.0.0.1 that records requests.

    Responses are scripted: ``responses`` is consumed one per request, and
    ``default`` answers when it is empty. Each response is ``(status, body)``.
    """

    default: tuple[int, Any] = (201, {"ok": True})
    responses: list[tuple[int, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _next_response(self) -> tuple[int, Any]:
        with self._lock:
            return self.responses.pop(0) if self.responses else self.default

    def _record(self, recorded: Recorded) -> None:
        with self._lock:
            self.requests.append(recorded)

    def start(self) -> RecordingServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, payload = owner._next_response()
                owner._record(Recorded(self.command, self.path, dict(self.headers), body))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815 (http.server names)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        # A short poll interval keeps stop() fast; serve_forever checks it on each loop.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@dataclass
class Process:
    """A real subprocess whose output goes to a log file, stopped by its PID."""

    popen: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        """Hard kill, as a crash or power loss would: no cleanup runs."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL if it does not exit within ``timeout`` s."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
        return self.popen.returncode


# Every process start_process made and nobody has reaped yet. A test that fails
# half-way may never reach its stop(); the autouse fixture in conftest reaps
# these after each test so no server or scheduler outlives it and disturbs the
# tests that follow (ports, ledgers, CPU). Only for function-scoped use.
_unreaped: list[Process] = []


def reap_processes() -> int:
    """Kill -9 every process started since the last reap that is still alive."""
    leftovers = [process for process in _unreaped if process.alive()]
    for process in leftovers:
        process.kill9()
    _unreaped.clear()
    return len(leftovers)


def python_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a project subprocess: this interpreter's, repo on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def start_process(
    args: Sequence[str],
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
) -> Process:
    """Start ``python args...`` with the project on the path; output to ``log_path``."""
    log = log_path.open("ab")
    popen = subprocess.Popen(
        [sys.executable, *args],
        cwd=cwd,
        env=python_env(env),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    process = Process(popen, log_path)
    _unreaped.append(process)
    return process


def http_ok(url: str) -> bool:
    """True when ``url`` answers 2xx; False while nothing listens or answers there yet.

    A server may take its port before it serves (``localbridge serve`` binds
    first, then discovers and warms): a request to it waits, and on a busy
    machine times out. That is "not yet" too.
    """
    try:
        return requests.get(url, timeout=1).ok
    except (requests.ConnectionError, requests.Timeout):
        return False


@contextmanager
def running(
    process: Process, ready: Callable[[], bool], timeout: float = 30.0
) -> Iterator[Process]:
    """Wait until ``ready()`` (failing with the process log), stop the process after."""
    try:

        def up() -> bool:
            if not process.alive():
                raise AssertionError(f"process exited early:\n{process.log()}")
            return ready()

        wait_for(up, timeout, what=f"process {process.pid} to be ready")
        yield process
    finally:
        process.stop()
