"""Invokers on one real Chalice project: either mode, or process mode alone."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from localbridge.abc import Invoker
from localbridge.invokers.process import ProcessInvoker
from tests.localbridge.chalice_project import write_project
from tests.localbridge.invokers.support import IDENTITY, MODES


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("project"))


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


@pytest.fixture(params=sorted(MODES))
def invoker(request: pytest.FixtureRequest, project: Path) -> Iterator[Invoker]:
    started = MODES[request.param](project)
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
def process_invoker(project: Path) -> Iterator[ProcessInvoker]:
    started = ProcessInvoker(project, IDENTITY)
    try:
        yield started
    finally:
        started.close()
