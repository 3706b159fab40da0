"""The project's real jobs in a scratch copy, with their own data and settings."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from data.generate import Spec, write
from localbridge.ledger.store import Ledger
from localbridge.ticks import TickState
from tests.support import ROOT


def copy_project(root: Path, localbridge: dict[str, Any] | None = None) -> Path:
    """app.py, functions/ and the Chalice config, with a ``localbridge`` section for stage local."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "app.py", root / "app.py")
    shutil.copytree(
        ROOT / "functions", root / "functions", ignore=shutil.ignore_patterns("__pycache__")
    )
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    if localbridge is not None:
        config["stages"]["local"]["localbridge"] = localbridge
    (root / ".chalice").mkdir(exist_ok=True)
    (root / ".chalice" / "config.json").write_text(json.dumps(config, indent=2))
    return root


def registrations_db(path: Path) -> Path:
    write(Spec(), path)
    return path


def job_env(db: Path, api_url: str) -> list[str]:
    """``--env`` options pointing the jobs at this data and this API, failing fast."""
    pairs = {"REGISTRATIONS_DB": str(db), "RESULTS_API_URL": api_url, "RESULTS_API_ATTEMPTS": "1"}
    return [option for key, value in pairs.items() for option in ("--env", f"{key}={value}")]


def results(api_url: str) -> list[dict[str, Any]]:
    response = requests.get(f"{api_url}/result", params={"limit": 10_000}, timeout=10)
    response.raise_for_status()
    records: list[dict[str, Any]] = response.json()
    return records


def keys_posted(api_url: str) -> Counter[str]:
    """How many records the API holds per Idempotency-Key (``<function>/<time>``)."""
    return Counter(record["idempotency_key"] for record in results(api_url))


def ledger_keys(ledger_path: Path, state: TickState) -> set[str]:
    ledger = Ledger.open(ledger_path)
    try:
        return {
            f"{t.function}/{t.scheduled_at:%Y-%m-%dT%H:%M:%SZ}" for t in ledger.find(state=state)
        }
    finally:
        ledger.close()
