"""Honest health: an unusable store is refused at start, and store errors are 503 everywhere."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.records import NewResult
from api.storage import SCHEMA_VERSION, ResultStore
from tests.support import ROOT, free_port, python_env


def start_api(db: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m api`` that is expected to refuse to start (it would serve otherwise)."""
    variables = {"PORT": str(free_port()), "RESULTS_DB": str(db), **env}
    return subprocess.run(
        [sys.executable, "-m", "api"],
        cwd=ROOT,
        env=python_env(variables),
        capture_output=True,
        text=True,
        timeout=60,
    )


def damaged_store(path: Path) -> None:
    """A store of 400 results whose middle pages were overwritten, as a bad disk would."""
    store = ResultStore.open(path)
    body = '{"pad":"' + "p" * 3000 + '"}'
    store.add_many([NewResult("2022-12-21T00:00:00Z", None, "d", "m", body) for _ in range(400)])
    store.close()
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(size // 2 - size // 2 % 4096)
        file.write(b"\xa5" * 4096 * 8)


def test_a_damaged_store_is_refused_at_start(tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    damaged_store(db)

    finished = start_api(db)

    assert finished.returncode == 2
    assert finished.stderr.count("\n") == 1
    assert "is damaged" in finished.stderr
    assert "RESULTS_DB" in finished.stderr


def test_a_file_claiming_the_schema_without_its_table_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "results.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE other (x)")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    finished = start_api(db)

    assert finished.returncode == 2
    assert finished.stderr.count("\n") == 1
    assert "instead of the result table" in finished.stderr


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/health"),
        ("GET", "/result"),
        ("GET", "/result/1"),
        ("POST", "/result"),
        ("DELETE", "/result/1"),
        ("GET", "/metrics"),
    ],
)
def test_a_store_failing_while_serving_is_503_on_every_path(
    client: TestClient, tmp_path: Path, method: str, path: str
) -> None:
    client.post("/result", json={"metric": "m"})
    with sqlite3.connect(tmp_path / "results.db") as conn:
        conn.execute("ALTER TABLE result RENAME TO moved_away")

    response = client.request(method, path, json={"metric": "m"})

    assert response.status_code == 503
    assert "retry later" in response.json()["error"]
