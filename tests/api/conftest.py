"""Fixtures for the results API: the real app over a real SQLite file per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings

JSON = {"Content-Type": "application/json"}
START = datetime(2022, 12, 21, 0, 5, tzinfo=UTC)


class StepClock:
    """A clock that moves one second forward each time it is read."""

    def __init__(self, start: datetime = START):
        self.now = start

    def __call__(self) -> datetime:
        current = self.now
        self.now += timedelta(seconds=1)
        return current


ClientFactory = Callable[..., AbstractContextManager[TestClient]]


@pytest.fixture
def make_client(tmp_path: Path) -> ClientFactory:
    """Open the app (lifespan included) on ``tmp_path/results.db``; keyword settings apply."""

    @contextmanager
    def factory(**overrides: object) -> Iterator[TestClient]:
        settings = Settings(db_path=tmp_path / "results.db", **overrides)  # type: ignore[arg-type]
        with TestClient(create_app(settings, clock=StepClock())) as client:
            yield client

    return factory


@pytest.fixture
def client(make_client: ClientFactory) -> Iterator[TestClient]:
    with make_client() as opened:
        yield opened
