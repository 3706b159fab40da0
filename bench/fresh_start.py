"""``make run`` on a fresh clone with empty package caches: seconds to the week-50 result.

Clones this repository's committed HEAD into a temporary directory and runs
``make run`` there with pip's and uv's caches off (``PIP_NO_CACHE_DIR``,
``UV_NO_CACHE``), on free ports, until the results API holds the 2022-W50
average weight. The phases are timed from the outside, by what appears on
disk: the installer (uv) bootstrapped, what running needs installed (the
floor: the runtime dependencies alone with a fast installer), the data
generated, then the result. Needs the package registry; a failed install is
reported, not hidden.

    python -m bench fresh_start [--timeout S]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

TARGET_S = 60.0
WEEK = "2022-W50"
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def has_week_50(url: str) -> bool:
    """The API answers and holds the week-50 average; any error is "not yet"."""
    try:
        with urllib.request.urlopen(f"{url}/result?metric=average_weight", timeout=2) as answer:
            return WEEK in answer.read().decode()
    except (OSError, ValueError, urllib.error.URLError):
        return False


def phase_marks(clone: Path) -> dict[str, bool]:
    """Which phases have finished, judged by the files each leaves."""
    venv = clone / ".venv"
    return {
        "uv bootstrapped": any(venv.glob(".uv-*")),
        "runtime installed": any(venv.glob(".run-*")),
        "data generated": (clone / "data" / "registrations.db").exists(),
    }


def measure(clone: Path, timeout: float) -> tuple[dict[str, float], float | None, int]:
    port, lambda_port, console = free_port(), free_port(), free_port()
    env = dict(os.environ, PIP_NO_CACHE_DIR="1", UV_NO_CACHE="1")
    env.pop("VIRTUAL_ENV", None)
    log = (clone / "make-run.log").open("w")
    started = time.perf_counter()
    # Free ports of its own, given as make's variables: the defaults may be taken.
    ports = [f"API_PORT={port}", f"LAMBDA_PORT={lambda_port}", f"CONSOLE_PORT={console}"]
    process = subprocess.Popen(
        ["make", "run", *ports],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, stopped as one below
    )
    phases: dict[str, float] = {}
    result_s = None
    try:
        while time.perf_counter() - started < timeout and process.poll() is None:
            for name, done in phase_marks(clone).items():
                if done and name not in phases:
                    phases[name] = time.perf_counter() - started
            if has_week_50(f"http://127.0.0.1:{port}"):
                result_s = time.perf_counter() - started
                break
            time.sleep(0.1)
    finally:
        code = stop(process)
        log.close()
    return phases, result_s, code


def stop(process: subprocess.Popen[bytes]) -> int:
    """Ctrl-C to make run's process group (as a person would), then SIGKILL after 20 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            return process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    return process.wait()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench fresh_start", description=__doc__)
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after (s)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fresh-start-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        phases, result_s, code = measure(clone, args.timeout)
        print("make run on a fresh clone, empty pip and uv caches:")
        previous = 0.0
        for name, at in phases.items():
            print(f"  {name:<20} at {at:6.1f} s  (+{at - previous:5.1f} s)")
            previous = at
        if result_s is None:
            tail = (clone / "make-run.log").read_text()[-2000:]
            print(f"no {WEEK} result within {args.timeout:.0f} s (make exited {code}):\n{tail}")
            return 1
        print(f"  {WEEK} result in the API at {result_s:6.1f} s  (+{result_s - previous:5.1f} s)")
        verdict = "met" if result_s <= TARGET_S else "MISSED"
        print(f"target: the {WEEK} result within {TARGET_S:.0f} s: {verdict}")
    return 0
