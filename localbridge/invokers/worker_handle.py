"""The parent's handle on one worker process (see ``localbridge.invokers.worker_main``).

One ``WorkerProcess`` serves one invocation at a time. Requests and responses
are JSON lines on two private pipes; the worker's stdout and stderr go to an
append-only temporary file that is emptied before each run and read after
it, so even a run that crashes or is killed keeps what it printed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from localbridge import lambda_errors
from localbridge.events import AwsIdentity, ContextFields, log_group_name, new_log_stream_name
from localbridge.lambda_errors import HandlerOutcome
from localbridge.launch import module_command
from localbridge.model import FunctionSpec, InvocationResult

LOG_LIMIT_BYTES = 64 * 1024
# Lambda gives the init phase (importing the handler) its own 10 s; a loaded
# laptop gets more before the worker is declared broken.
INIT_TIMEOUT_S = 30.0
# Credentials are passed through, as Lambda passes the execution role's.
PASSED_THROUGH = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def lambda_environment(
    function: FunctionSpec, identity: AwsIdentity, project_dir: Path, log_stream: str
) -> dict[str, str]:
    """The worker's whole environment: the function's variables plus Lambda's own."""
    env = dict(function.environment)
    env.update({key: os.environ[key] for key in PASSED_THROUGH if key in os.environ})
    # Lambda's reserved variables cannot be overridden by configuration.
    env.update(
        {
            "AWS_REGION": identity.region,
            "AWS_DEFAULT_REGION": identity.region,
            "AWS_EXECUTION_ENV": "AWS_Lambda_python{}.{}".format(*sys.version_info[:2]),
            "AWS_LAMBDA_FUNCTION_NAME": function.lambda_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": log_group_name(function),
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "LAMBDA_TASK_ROOT": str(project_dir),
            "_HANDLER": function.handler,
            "LANG": "en_US.UTF-8",
            "TZ": "UTC",
            "PATH": os.environ.get("PATH", os.defpath),
            "PYTHONPATH": str(project_dir),
        }
    )
    return env


class WorkerProcess:
    """A started worker for one function, ready (or not) to serve invocations."""

    def __init__(
        self, function: FunctionSpec, project_dir: Path, identity: AwsIdentity, generation: int
    ) -> None:
        self.function = function
        self.task_root = project_dir
        self.identity = identity
        self.generation = generation
        self.log_stream = new_log_stream_name()
        self._log_fd = _append_only_tempfile()
        request_read, self._request_write = os.pipe()
        self._response_read, response_write = os.pipe()
        try:
            self._popen = subprocess.Popen(
                module_command(
                    "localbridge.invokers.worker_main",
                    function.handler,
                    str(request_read),
                    str(response_write),
                ),
                cwd=project_dir,
                env=lambda_environment(function, identity, project_dir, self.log_stream),
                stdin=subprocess.DEVNULL,
                stdout=self._log_fd,
                stderr=self._log_fd,
                pass_fds=(request_read, response_write),
                # Its own process group: a timeout kills what the function
                # started too, and Ctrl-C in the terminal reaches only the
                # runtime, which lets running invocations finish.
                start_new_session=True,
            )
        except BaseException:
            for fd in (self._request_write, self._response_read, self._log_fd):
                os.close(fd)
            raise
        finally:
            os.close(request_read)
            os.close(response_write)
        self._pending = b""
        self._closed = False

    @property
    def pid(self) -> int:
        return self._popen.pid

    def alive(self) -> bool:
        return self._popen.poll() is None

    def wait_ready(self) -> HandlerOutcome | None:
        """None once the handler is imported; otherwise why the worker is unusable."""
        line = self._read_line(time.monotonic() + INIT_TIMEOUT_S)
        if line is None:
            self.kill()
            return lambda_errors.init_timed_out(self.function.handler, INIT_TIMEOUT_S)
        if not line:
            return self._exit_failure()
        message = json.loads(line)
        if message.get("ready"):
            return None
        return HandlerOutcome.from_json(message["init_error"])

    def run(self, event: Mapping[str, Any], request_id: str) -> InvocationResult:
        """One invocation, bounded by the function's timeout."""
        context = ContextFields.for_invocation(
            self.function, self.identity, request_id, self.log_stream
        )
        request = json.dumps({"event": event, "context": context.to_json()}).encode() + b"\n"
        os.ftruncate(self._log_fd, 0)
        started_at = time.time()
        deadline = time.monotonic() + self.function.timeout_s
        with contextlib.suppress(BrokenPipeError):  # it died while idle; reading says how
            _write_all(self._request_write, request)
        line = self._read_line(deadline)
        if line is None:
            self.kill()
            outcome = lambda_errors.timed_out(self.function.timeout_s)
        elif not line:
            outcome = self._exit_failure()
        else:
            outcome = HandlerOutcome.from_json(json.loads(line))
        result = outcome.to_result(started_at, self.logs())
        return dataclasses.replace(result, log_stream=self.log_stream)

    def logs(self) -> str:
        """What the worker wrote since the run started; the last 64 KiB of it."""
        size = os.fstat(self._log_fd).st_size
        start = max(0, size - LOG_LIMIT_BYTES)
        text = os.pread(self._log_fd, size - start, start).decode("utf-8", "replace")
        return f"[{start} earlier bytes dropped]\n{text}" if start else text

    def kill(self) -> None:
        """Stop it now, with anything it started (its process group)."""
        if self._popen.returncode is None:  # not reaped yet: the group id is still ours
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._popen.pid, signal.SIGKILL)
        self._popen.wait()

    def close(self, timeout: float = 5.0) -> None:
        """Let it exit on its own (end of requests), killing it if it lingers."""
        if self._closed:
            return
        self._closed = True
        os.close(self._request_write)
        try:
            self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        os.close(self._response_read)
        os.close(self._log_fd)

    def _exit_failure(self) -> HandlerOutcome:
        status = self._popen.wait()
        how = (
            f"signal: {signal.Signals(-status).name}"
            if status < 0 and -status in signal.valid_signals()
            else f"exit status {status}"
        )
        return lambda_errors.exited(how)

    def _read_line(self, deadline: float) -> bytes | None:
        """The next response line; b"" when the worker is gone, None at the deadline."""
        while b"\n" not in self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._response_read], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._response_read, 1 << 16)
            if not chunk:
                return b""
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line


def _append_only_tempfile() -> int:
    """An unnamed file every write appends to, whoever writes and wherever it seeks."""
    fd, path = tempfile.mkstemp(prefix="localbridge-worker-", suffix=".log")
    try:
        return os.open(path, os.O_RDWR | os.O_APPEND)
    finally:
        os.close(fd)
        os.unlink(path)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
