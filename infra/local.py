"""``python -m infra.local``: the results API and localbridge together (``make run``).

Starts ``python -m api`` and, once its ``/health`` answers, ``python -m
localbridge run --stage local`` with a virtual clock, as two child processes
that write to this terminal. Ctrl-C or SIGTERM stops localbridge first (its
runs in flight finish), then the API. If either child exits on its own, the
other is stopped too and its exit code is passed on.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import requests

from infra.ports import free_port_after, port_taken
from localbridge.lambda_api.server import DEFAULT_PORT as LAMBDA_PORT
from localbridge.ledger import DEFAULT_LEDGER
from localbridge.signals import SignalEvent, set_on_signals

API_HOST = "127.0.0.1"
API_STARTUP_S = 30.0
STOP_GRACE_S = 15.0


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__)
    parser.add_argument("--clock-start", help="virtual clock start (ISO-8601 UTC)")
    parser.add_argument("--clock-end", help="fire nothing scheduled after this (ISO-8601 UTC)")
    parser.add_argument("--speed", default="1", help="virtual clock speed (x real time)")
    parser.add_argument(
        "--console-port", type=int, help="the web console's port (default: localbridge's, 3000)"
    )
    parser.add_argument("--stage", default="local")
    parser.add_argument("--api-port", type=int, default=int(os.environ.get("PORT", "5000")))
    parser.add_argument(
        "--lambda-port",
        type=int,
        default=LAMBDA_PORT,
        help=f"the Lambda Invoke API's port (chalice invoke, boto3; default {LAMBDA_PORT})",
    )
    parser.add_argument("--results-db", default=os.environ.get("RESULTS_DB", "data/results.db"))
    parser.add_argument("--ledger", default=DEFAULT_LEDGER)
    parser.add_argument(
        "extra", nargs="*", help="more `localbridge run` options, after `--` (e.g. --env K=V)"
    )
    return parser.parse_args(argv)


def start(args: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], env=env, stdin=subprocess.DEVNULL)


def wait_healthy(url: str, api: subprocess.Popen[bytes], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.poll() is not None:
            return False
        try:
            if requests.get(f"{url}/health", timeout=1).ok:
                return True
        except requests.RequestException:
            pass  # not answering yet (refused, reset, timed out): starting
        time.sleep(0.1)  # polling interval while the API starts
    return False


def stop(process: subprocess.Popen[bytes], grace: float) -> int:
    """SIGTERM, then SIGKILL after ``grace`` seconds; the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


def taken_port_message(args: argparse.Namespace) -> str | None:
    """Which port ``make run`` needs is taken, and how to choose another; None if all are free."""
    for what, port, variable in (
        ("the results API", args.api_port, "API_PORT"),
        ("the Lambda Invoke API", args.lambda_port, "LAMBDA_PORT"),
    ):
        if port_taken(port):
            free = free_port_after(port)
            return (
                f"infra.local: port {port} ({what}) is taken by another program; stop that "
                f"program, or choose another port: make run {variable}={free}"
            )
    return None


def localbridge_args(args: argparse.Namespace) -> list[str]:
    command = ["-m", "localbridge", "run", "--stage", args.stage, "--ledger", args.ledger]
    command += ["--port", str(args.lambda_port)]
    if args.clock_start:
        command += ["--clock-start", args.clock_start]
    if args.clock_end:
        command += ["--clock-end", args.clock_end]
    if args.console_port is not None:
        command += ["--console-port", str(args.console_port)]
    command += ["--speed", args.speed, *args.extra]
    return command


def banner(args: argparse.Namespace, url: str) -> str:
    """Where things are, and commands to paste into another terminal at the repository's
    root (indented; tests/project/test_pasted_commands.py runs each)."""
    ledger = "" if args.ledger == DEFAULT_LEDGER else f" --ledger {args.ledger}"
    return (
        f"\nresults API: {url}  (results: {args.results_db})\n"
        f"  curl '{url}/result?metric=average_weight'\n"
        f"  curl '{url}/result?metric=registrations'\n"
        f"localbridge: runs in {args.ledger}\n"
        f"  .venv/bin/localbridge runs{ledger}\n"
        f"console: http://127.0.0.1:{args.console_port or 3000}/  (schedules, runs, dead "
        "letters, results, /metrics; localbridge prints the address it got)\n"
        "Ctrl-C stops both.\n"
    )


def main(argv: Sequence[str]) -> int:
    args = parse(argv)
    taken = taken_port_message(args)
    if taken is not None:
        print(taken, file=sys.stderr)
        return 2
    Path(args.ledger).parent.mkdir(parents=True, exist_ok=True)
    url = f"http://{API_HOST}:{args.api_port}"
    api_env = dict(os.environ, HOST=API_HOST, PORT=str(args.api_port), RESULTS_DB=args.results_db)
    stopping = SignalEvent()
    set_on_signals(stopping)
    api = start(["-m", "api"], api_env)
    if not wait_healthy(url, api, API_STARTUP_S):
        print(f"infra.local: the results API did not become healthy at {url}", file=sys.stderr)
        return stop(api, STOP_GRACE_S) or 1
    # Functions see only their stage's variables (as in Lambda): pass the URL explicitly.
    bridge = start([*localbridge_args(args), "--env", f"RESULTS_API_URL={url}"])
    print(banner(args, url), flush=True)
    while not stopping.wait(0.2):
        if api.poll() is not None or bridge.poll() is not None:
            break
    bridge_code = stop(bridge, STOP_GRACE_S)
    api_code = stop(api, STOP_GRACE_S)
    if stopping.is_set():
        return 0
    return bridge_code or api_code or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
