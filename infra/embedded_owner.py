"""Whose are the ports ``make deploy-local`` deploys to and posts to: this checkout's, or not.

Another checkout's ``make deploy-local`` or ``make run`` may hold the same
ports. Deploying to another checkout's emulated AWS would replace its
functions (and ``make destroy-local`` would delete them); posting to another
stack's results API mixes two stacks' results. So the embedded engine uses an
endpoint only when it answers with this checkout's state directory (the
engine says which in ``/_emulated_aws/health``) and a results API only when
this checkout's deploy-local started it; anything else on a port is refused
with one line naming it and the variable that moves to a free port.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import requests

from infra.background import Background
from infra.ports import free_port_after, port_taken

HOST = "127.0.0.1"
HEALTH_PATH = "/_emulated_aws/health"


class PortTakenError(Exception):
    """A port holds what is not this checkout's; the message says whose and what to change."""


def endpoint_health(url: str) -> dict[str, Any] | None:
    """The emulated AWS's health answer at ``url``, or None when none answers there."""
    try:
        response = requests.get(f"{url}{HEALTH_PATH}", timeout=2)
        answer = response.json() if response.ok else None
    except (requests.RequestException, ValueError):
        return None
    # Any web server may answer a GET with JSON: the engine's answer has these.
    is_engine = isinstance(answer, dict) and answer.get("status") == "running" and "clock" in answer
    return answer if is_engine else None


def endpoint_is_ours(
    url: str, port: int, state_dir: Path, ours: Background, avoid: frozenset[int] = frozenset()
) -> bool:
    """True: this checkout's endpoint serves ``url``; False: the port is free to start it.

    PortTakenError when another checkout's endpoint or another program holds the
    port, or when this checkout's endpoint already runs on another port (two
    engines on one state directory would move each other's ledger).
    """
    health = endpoint_health(url)
    if health is not None:
        theirs = health.get("state_dir")
        if theirs == str(state_dir):
            return True
        whose = f"state in {theirs}" if theirs else "state directory not said"
        raise PortTakenError(
            f"port {port} serves another checkout's emulated AWS ({whose}); deploy this one "
            f"to a free port: make deploy-local ENDPOINT_PORT={free_port_after(port, avoid)}"
        )
    if port_taken(port):
        raise PortTakenError(
            f"port {port} is taken by a program that is not an emulated AWS; stop it, "
            f"or choose a free port: make deploy-local ENDPOINT_PORT={free_port_after(port, avoid)}"
        )
    running = ours.pid()
    if running is not None:
        elsewhere = port_argument(ours.arguments()) or "another port"
        raise PortTakenError(
            f"this checkout's emulated AWS already runs on port {elsewhere} (pid {running}): "
            f"redeploy to it with ENDPOINT_PORT={elsewhere}, or stop it first: make destroy-local"
        )
    return False


def port_argument(arguments: list[str]) -> str | None:
    """The value of ``--port`` in a command line."""
    for option, value in itertools.pairwise(arguments):
        if option == "--port":
            return value
    return None


def results_api_answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=2).ok
    except requests.RequestException:
        return False


def refuse_api_port(port: int, avoid: frozenset[int] = frozenset()) -> PortTakenError:
    """Why the results API's port cannot be used: someone else's API, or another program."""
    url = f"http://{HOST}:{port}"
    what = (
        "a results API this checkout's deploy-local did not start (make run's, or another "
        "checkout's): the deployed functions' posts would mix with its own"
        if results_api_answers(url)
        else "another program"
    )
    return PortTakenError(
        f"port {port} (where the deployed functions post) is taken by {what}; "
        f"choose a free port: make deploy-local API_PORT={free_port_after(port, avoid)}"
    )
