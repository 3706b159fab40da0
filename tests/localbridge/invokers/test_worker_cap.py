"""Process mode's cap on worker processes, and idle workers that exit after a while."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from localbridge.invokers.process import ProcessInvoker
from tests.localbridge.chalice_project import spec
from tests.localbridge.invokers.support import (
    DEADLINE_S,
    IDENTITY,
    invoke,
    result_of,
    started_markers,
)
from tests.support import wait_for


def test_at_the_cap_a_new_function_takes_the_place_of_the_longest_idle_worker(
    project: Path,
) -> None:
    first, second, third = spec("exits"), spec("echo"), spec("logs_info")
    invoker = ProcessInvoker(project, IDENTITY, max_workers=2)
    try:
        for function in (first, second, third):
            assert invoke(invoker, function).succeeded
        assert invoker.worker_count() == 2
        assert invoker.worker_pids(first) == []  # idle the longest: retired
        assert len(invoker.worker_pids(second)) == len(invoker.worker_pids(third)) == 1
    finally:
        invoker.close()


def test_runs_beyond_the_cap_wait_for_a_worker(
    project: Path, tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    gate = tmp_path / "gate"
    function = spec("gated_version", GATE=str(gate))
    invoker = ProcessInvoker(project, IDENTITY, max_workers=2)
    try:
        runs = [pool.submit(invoke, invoker, function) for _ in range(4)]
        try:
            wait_for(lambda: len(started_markers(gate)) == 2, DEADLINE_S, "two runs to start")
            assert invoker.worker_count() == 2
        finally:
            gate.touch()
        results = [result_of(run) for run in runs]
        assert all(result.succeeded for result in results), results
        assert len({result.payload["pid"] for result in results}) <= 2
    finally:
        invoker.close()


def test_idle_workers_beyond_one_per_function_exit_after_the_idle_time(
    project: Path, tmp_path: Path, pool: ThreadPoolExecutor
) -> None:
    gate = tmp_path / "gate"
    function = spec("gated_version", GATE=str(gate))
    invoker = ProcessInvoker(project, IDENTITY, idle_exit_s=0.2)
    try:
        runs = [pool.submit(invoke, invoker, function) for _ in range(3)]
        try:
            wait_for(lambda: len(started_markers(gate)) == 3, DEADLINE_S, "three runs to start")
        finally:
            gate.touch()
        assert all(result_of(run).succeeded for run in runs)
        wait_for(
            lambda: invoker.worker_count() == 1,
            DEADLINE_S,
            "the idle workers beyond the first to exit",
        )
        assert len(invoker.worker_pids(function)) == 1
        assert invoke(invoker, function).succeeded  # the warm one serves
    finally:
        invoker.close()
