"""Throwaway Chalice projects for localbridge's tests: app.py, a Blueprint, config.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localbridge.model import FunctionSpec

APP_PY = """\
from chalice import Chalice, Cron, Rate

from tasks import bp

app = Chalice(app_name="demo")
app.register_blueprint(bp)


@app.schedule(Rate(5, unit=Rate.MINUTES))
def every_five_minutes(event):
    return {"fired": event.time}
"""

TASKS_PY = """\
import decimal
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from chalice import Blueprint, Cron, Rate

bp = Blueprint(__name__)
VERSION = 1


@bp.schedule(Cron(5, 0, "*", "*", "?", "*"))
def echo(event):
    # Chalice hands a CloudWatchEvent; the Lambda context rides along.
    context = event.context
    print("echo ran at", event.time)
    return {
        "event": event.to_dict(),
        "function_name": context.function_name,
        "function_version": context.function_version,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "request_id": context.aws_request_id,
        "log_group": context.log_group_name,
        "log_stream": context.log_stream_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "environ": dict(os.environ),
        "version": VERSION,
    }


@bp.schedule(Rate(1, unit=Rate.MINUTES))
def fails(event):
    print("about to fail")
    raise ValueError("no rows for " + event.time)


@bp.schedule(Rate(1, unit=Rate.HOURS))
def blocks(event):
    threading.Event().wait()  # nothing ever sets it


@bp.schedule(Rate(2, unit=Rate.HOURS))
def exits(event):
    if event.detail.get("crash"):
        print("exiting hard")
        os._exit(3)
    return os.getpid()


@bp.schedule(Rate(9, unit=Rate.HOURS))
def segfaults(event):
    if event.detail.get("crash"):
        subprocess.run(["echo", "from a child"], check=True)
        import ctypes

        ctypes.string_at(0)
    return os.getpid()


@bp.schedule(Rate(8, unit=Rate.HOURS))
def calls_sys_exit(event):
    sys.exit(4)


@bp.schedule(Rate(3, unit=Rate.HOURS))
def kills_itself(event):
    if event.detail.get("crash"):
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()


@bp.schedule(Rate(4, unit=Rate.HOURS))
def unserialisable(event):
    return {"when": time}


@bp.schedule(Rate(6, unit=Rate.HOURS))
def chatty(event):
    print("x" * 99_999)
    return "said a lot"


@bp.schedule(Rate(7, unit=Rate.HOURS))
def spawns_child(event):
    child = subprocess.Popen([sys.executable, "-c", "import threading; threading.Event().wait()"])
    pid_file = os.environ["CHILD_PID_FILE"]
    with open(pid_file + ".tmp", "w") as out:
        out.write(str(child.pid))
    os.replace(pid_file + ".tmp", pid_file)
    threading.Event().wait()


@bp.schedule(Rate(10, unit=Rate.HOURS))
def logs_info(event):
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)  # as a Lambda function would, to see its INFO records
    logging.getLogger("tasks").info("weighed %d rows", 3)
    root.setLevel(level)  # thread mode shares this root logger with the tests
    return "logged"


@bp.schedule(Rate(11, unit=Rate.HOURS))
def decimals(event):
    return {"count": decimal.Decimal(3), "mean": decimal.Decimal("72.25"),
            "list": [decimal.Decimal("1.5")]}


@bp.schedule(Rate(12, unit=Rate.HOURS))
def returns_bytes(event):
    return "x" * (event.detail["size"] - 2)  # the JSON string's quotes make up the rest


@bp.schedule(Rate(13, unit=Rate.HOURS))
def context_details(event):
    context = event.context
    client = context.client_context
    return {
        "identity": [context.identity.cognito_identity_id,
                     context.identity.cognito_identity_pool_id],
        "client_context": None if client is None else [client.custom, client.env,
                                                        client.client.app_title],
        "tenant_id": context.tenant_id,
        "arn": context.invoked_function_arn,
        "trace": os.environ["_X_AMZN_TRACE_ID"],
    }


@bp.schedule(Rate(5, unit=Rate.HOURS))
def gated_version(event):
    # Says it started, then waits (polling a file: a condition) for the test's gate.
    gate = os.environ["GATE"]
    marker = f"{gate}.{os.getpid()}.{threading.get_ident()}.started"
    open(marker, "w").close()
    while not os.path.exists(gate):
        time.sleep(0.01)
    return {"version": VERSION, "pid": os.getpid(), "thread": threading.get_ident()}
"""

CONFIG: dict[str, Any] = {
    "version": "2.0",
    "app_name": "demo",
    "environment_variables": {"SHARED": "top", "OVERRIDDEN": "top"},
    "lambda_timeout": 30,
    "stages": {
        "dev": {
            "api_gateway_stage": "api",
            "environment_variables": {"OVERRIDDEN": "stage", "STAGE_ONLY": "dev"},
            "lambda_memory_size": 256,
            "lambda_functions": {
                "echo": {
                    "lambda_timeout": 7,
                    "environment_variables": {"PER_FUNCTION": "echo"},
                },
            },
        },
        "prod": {},
    },
}


def write_project(root: Path, config: dict[str, Any] | None = None) -> Path:
    """A Chalice project with an app-level function and a Blueprint of test jobs."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "app.py").write_text(APP_PY)
    (root / "tasks.py").write_text(TASKS_PY)
    (root / ".chalice").mkdir(exist_ok=True)
    (root / ".chalice" / "config.json").write_text(json.dumps(config or CONFIG, indent=2))
    return root


def set_version(project: Path, version: int) -> None:
    """Edit the Blueprint module as a developer would.

    The comment changes the file's size: Python trusts a cached .pyc whose
    source has the same size and modification second.
    """
    tasks = project / "tasks.py"
    edited = tasks.read_text().replace("VERSION = 1\n", f"VERSION = {version}  # edited\n")
    tasks.write_text(edited)


def spec(name: str, timeout_s: int = 30, **environment: str) -> FunctionSpec:
    """The FunctionSpec discovery would build for a function of ``tasks.py``."""
    return FunctionSpec(
        name=name,
        handler=f"tasks.{name}",
        expression="rate(1 minute)",
        app_name="demo",
        stage="dev",
        environment=environment,
        timeout_s=timeout_s,
    )
