"""The shared test support behaves as the suites rely on."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.support import RecordingServer, reap_processes, start_process, wait_for


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
