"""Fixtures shared by every suite."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import (
    ROOT,
    Process,
    RecordingServer,
    free_port,
    http_ok,
    reap_processes,
    running,
    start_process,
)

ORIGINAL_DB = Path(
    os.environ.get("ORIGINAL_REGISTRATIONS_DB", ROOT.parent / "shared/data/registration.sqlite")
)


@pytest.fixture(autouse=True)
def _reap_leftover_processes() -> Iterator[None]:
    """After each test, kill what it started and did not stop (e.g. when it failed)."""
    yield
    reap_processes()


@pytest.fixture
def original_db() -> Path:
    """The original assignment's data, read-only; the test skips when it is absent."""
    if not ORIGINAL_DB.is_file():
        pytest.skip(f"original data not found at {ORIGINAL_DB}")
    return ORIGINAL_DB


@pytest.fixture
def recording_server() -> Iterator[RecordingServer]:
    """A real HTTP server on 127.0.0.1 that records requests (scripted answers)."""
    server = RecordingServer().start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class ResultsApi:
    """A real results API process (``python -m api``) on 127.0.0.1."""

    url: str
    db_path: Path
    process: Process


@pytest.fixture
def results_api(tmp_path: Path) -> Iterator[ResultsApi]:
    """Start the real results API on a free port with its own SQLite file."""
    port = free_port()
    db_path = tmp_path / "results.db"
    env = {"HOST": "127.0.0.1", "PORT": str(port), "RESULTS_DB": str(db_path)}
    process = start_process(["-m", "api"], tmp_path / "api.log", env=env)
    url = f"http://127.0.0.1:{port}"
    with running(process, lambda: http_ok(f"{url}/health")):
        yield ResultsApi(url, db_path, process)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test that runs shipped jobs by name is skipped once the project removed one:
    removing a job from ``functions/`` leaves the suite green."""
    for marker in item.iter_markers("shipped_jobs"):
        removed = [name for name in marker.args if not (ROOT / "functions" / f"{name}.py").exists()]
        if removed:
            pytest.skip(f"runs the shipped job(s) {', '.join(removed)}, removed from functions/")
