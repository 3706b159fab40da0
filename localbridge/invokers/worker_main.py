"""A worker process: one Lambda execution environment for one function.

Started by ``localbridge.invokers.worker_handle`` with the arguments ``HANDLER
REQUEST_FD RESPONSE_FD``, the function's environment and the project
directory as cwd. It imports the handler once (Lambda's init phase),
says ``ready``, then serves one JSON line per invocation on REQUEST_FD with
one JSON line on RESPONSE_FD, until REQUEST_FD closes. A line of several
invocations (``{"runs": [...]}``, a replay's batch) gets a line per run as
each ends, with the run's times, peak memory and where its output ends. Everything the
function prints goes to this process's stdout/stderr, which the parent reads
as the run's logs.
"""

from __future__ import annotations

import io
import json
import os
import resource
import sys
import time
from typing import IO, Any

from localbridge import launch
from localbridge.events import ContextFields, LambdaContext
from localbridge.invokers.handlers import (
    Handler,
    HandlerLoadError,
    call_handler,
    load_handler,
    outcome_message,
)
from localbridge.invokers.runtime_log import install_root_handler, set_request_id
from localbridge.invokers.trace_env import set_trace_id
from localbridge.lambda_errors import HandlerOutcome

LOCALBRIDGE_ROOT = str(launch.LOCALBRIDGE_ROOT)


def hide_localbridge(task_root: str) -> None:
    """The function sees its project first on the path, as in Lambda, and not localbridge."""
    rest = [entry for entry in sys.path if entry not in ("", LOCALBRIDGE_ROOT, task_root)]
    sys.path[:] = [task_root, *rest]


def send(channel: IO[str], message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def serve(handler_string: str, requests: IO[str], responses: IO[str]) -> int:
    install_root_handler()  # before the function's modules import: as Lambda's runtime does
    try:
        handler = load_handler(handler_string)
    except HandlerLoadError as failure:
        send(responses, {"ready": False, "init_error": failure.outcome.to_json()})
        return 1
    send(responses, {"ready": True})
    for line in requests:
        request = json.loads(line)
        if "runs" not in request:
            send(responses, outcome_message(run_one(handler, request)))
            continue
        # A batch: a reply per run as it ends, with what the parent cannot see
        # from outside when several runs share one message.
        for run in request["runs"]:
            started_at = time.time()
            outcome = run_one(handler, run)
            ended_at = time.time()
            reply = outcome_message(outcome)
            reply["run"] = {
                "started_at": started_at,
                "ended_at": ended_at,
                "log_end": log_end(),
                "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
            send(responses, reply)
    return 0


def run_one(handler: Handler, request: dict[str, Any]) -> HandlerOutcome:
    fields = ContextFields.from_json(request["context"])
    set_trace_id(fields.trace_id)
    set_request_id(fields.aws_request_id)
    outcome = call_handler(handler, request["event"], LambdaContext(fields))
    set_request_id(None)
    sys.stdout.flush()
    sys.stderr.flush()
    return outcome


def log_end() -> int | None:
    """Where this run's output ends in the log file (stdout's size, output flushed)."""
    try:
        return os.fstat(1).st_size
    except OSError:  # the function closed its stdout: the parent reads to the end
        return None


def main(argv: list[str]) -> int:
    handler_string, request_fd, response_fd = argv[0], int(argv[1]), int(argv[2])
    task_root = os.environ.get("LAMBDA_TASK_ROOT", os.getcwd())
    hide_localbridge(task_root)
    # Unbuffered prints: output written just before a crash still reaches the logs.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True, write_through=True)
    with (
        open(request_fd, encoding="utf-8") as requests,
        open(response_fd, "w", encoding="utf-8") as responses,
    ):
        return serve(handler_string, requests, responses)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
