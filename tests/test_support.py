"""The shared test support behaves as the suites rely on."""

from __future__ import annotations

import socket
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from tests.support import (
    PROCESS_START_S,
    RecordingServer,
    free_port,
    http_ok,
    reap_processes,
    running,
    start_process,
    virtual_deadline,
    wait_for,
)


def test_recording_server_answers_scripted_responses_then_default(
    recording_server: RecordingServer,
) -> None:
    recording_server.responses = [(500, {"error": "boom"})]
    first = requests.post(f"{recording_server.url}/result", json={"a": 1}, timeout=5)
    second = requests.post(f"{recording_server.url}/result", json={"a": 2}, timeout=5)
    assert (first.status_code, second.status_code) == (500, 201)
    assert [r.json() for r in recording_server.requests] == [{"a": 1}, {"a": 2}]


def test_wait_for_fails_with_what_it_waited_for() -> None:
    with pytest.raises(AssertionError, match="the impossible"):
        wait_for(lambda: False, timeout=0.05, what="the impossible")


def test_reap_processes_kills_what_a_test_left_running(tmp_path: Path) -> None:
    reap_processes()  # start from a clean slate
    forever = start_process(["-c", "import time\nwhile True: time.sleep(60)"], tmp_path / "p.log")
    finished = start_process(["-c", "pass"], tmp_path / "q.log")
    finished.popen.wait(timeout=30)
    assert forever.alive()
    assert reap_processes() == 1
    assert not forever.alive()
    assert reap_processes() == 0


class Unready:
    """A port that takes connections and then, as a server still starting does,
    never answers (``silent``) or drops them with a reset."""

    def __init__(self, silent: bool) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.silent = silent
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/health"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            if self.silent:
                self.held.append(connection)
            else:  # reset: close at once with SO_LINGER 0
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
                connection.close()

    def close(self) -> None:
        for connection in self.held:
            connection.close()
        self.sock.close()


@pytest.mark.parametrize("silent", [True, False], ids=["times out", "resets"])
def test_http_ok_treats_a_server_that_does_not_answer_yet_as_not_ready(silent: bool) -> None:
    server = Unready(silent)
    try:
        assert http_ok(server.url) is False
    finally:
        server.close()
    assert http_ok(f"http://127.0.0.1:{free_port()}/health") is False  # nothing listens


def test_running_fails_at_once_with_the_log_when_the_process_exits(tmp_path: Path) -> None:
    process = start_process(["-c", "print('no such server'); raise SystemExit(3)"], tmp_path / "l")
    started = time.monotonic()
    with pytest.raises(AssertionError, match="no such server"), running(process, lambda: False):
        pass
    assert time.monotonic() - started < PROCESS_START_S


def test_deadlines_grow_with_the_virtual_span_and_shrink_with_speed() -> None:
    day = timedelta(days=1)
    assert virtual_deadline(day, 86400) == PROCESS_START_S + 1
    assert virtual_deadline(day, 86400, start_s=0) < virtual_deadline(day, 3600, start_s=0)
