"""Helpers for the jobs' tests: registrations files, scheduled events, the Chalice test client."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from chalice.test import Client

from app import create_app
from data.generate import SCHEMA

RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/metric-jobs-test-{name}-event"


def write_registrations(path: Path, rows: Iterable[tuple[str, float]]) -> Path:
    """A real SQLite file with the original schema holding ``(timestamp, weight)`` rows."""
    connection = sqlite3.connect(path)
    try:
        connection.execute(SCHEMA)
        connection.executemany(
            "INSERT INTO registration (timestamp, weight) VALUES (?, ?)", list(rows)
        )
        connection.commit()
    finally:
        connection.close()
    return path


def plain_query(path: Path, sql: str, *params: str) -> tuple[Any, ...]:
    """The answer straight from sqlite3, written independently of the job code."""
    connection = sqlite3.connect(path)
    try:
        row: tuple[Any, ...] = connection.execute(sql, params).fetchone()
        return row
    finally:
        connection.close()


def chalice_client(project_dir: Path, environment: Mapping[str, str]) -> Client:
    """A Chalice test client whose stage ``test`` sets ``environment`` for every invocation.

    The config is written to its own project dir, so a test's settings never
    depend on the repository's stages.
    """
    chalice_dir = project_dir / ".chalice"
    chalice_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "version": "2.0",
        "app_name": "metric-jobs",
        "stages": {"test": {"environment_variables": dict(environment)}},
    }
    (chalice_dir / "config.json").write_text(json.dumps(config))
    return Client(create_app(), stage_name="test", project_dir=str(project_dir))


def invoke(client: Client, name: str, time: str) -> Any:
    """Invoke ``name`` with the scheduled event EventBridge sends at ``time``."""
    event = client.events.generate_cw_event(
        source="aws.events",
        detail_type="Scheduled Event",
        detail={},
        resources=[RULE_ARN.format(name=name)],
        region="us-east-1",
    )
    event["time"] = time
    return client.lambda_.invoke(name, event).payload
