"""The parent's handle on one worker process (see ``localbridge.invokers.worker_main``).

One ``WorkerProcess`` serves one invocation at a time. Requests and responses
are JSON lines on two private pipes; the worker's stdout and stderr go to an
append-only temporary file that is emptied before each run and read after
it, so even a run that crashes or is killed keeps what it printed. A run's
result carries the last 64 KiB; an output sink reads the whole of it there.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from localbridge import lambda_errors
from localbridge.events import (
    AwsIdentity,
    ContextFields,
    log_group_name,
    new_log_stream_name,
    new_trace_id,
)
from localbridge.invokers.handlers import outcome_of
from localbridge.invokers.run_output import OutputSink, RunOutput, file_pieces
from localbridge.invokers.runtime_log import frame, framed
from localbridge.lambda_errors import HandlerOutcome
from localbridge.launch import module_command
from localbridge.model import FunctionSpec, InvocationResult, InvokeOptions

LOG_LIMIT_BYTES = 64 * 1024
"""What a run's result keeps of its output (the ledger's copy): the last 64 KiB. An
output sink (``invokers.run_output``) gets the whole output, from the log file."""
# Lambda gives the init phase (importing the handler) its own 10 s; a loaded
# laptop gets more before the worker is declared broken.
INIT_TIMEOUT_S = 30.0
# Credentials are passed through, as Lambda passes the execution role's.
PASSED_THROUGH = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


RUNTIME_DIR = str(Path(__file__).resolve().parent)
"""``LAMBDA_RUNTIME_DIR``: where the runtime lives (``/var/runtime`` on Lambda)."""


def lambda_environment(
    function: FunctionSpec, identity: AwsIdentity, project_dir: Path, log_stream: str
) -> dict[str, str]:
    """The worker's whole environment: the function's variables plus Lambda's own.

    Lambda's reserved variables win over configuration; the ones Lambda only
    defaults (``TZ``, ``LANG``, ``PATH``...) take the configured value when there is one.
    """
    defaults = {
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PATH": os.environ.get("PATH", os.defpath),
    }
    env = {**defaults, **function.environment}
    env.update({key: os.environ[key] for key in PASSED_THROUGH if key in os.environ})
    configured_path = function.environment.get("PYTHONPATH")
    reserved = {
        "AWS_REGION": identity.region,
        "AWS_DEFAULT_REGION": identity.region,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python{}.{}".format(*sys.version_info[:2]),
        "AWS_LAMBDA_FUNCTION_NAME": function.lambda_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": log_group_name(function),
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "LAMBDA_TASK_ROOT": str(project_dir),
        "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
        "_HANDLER": function.handler,
        # The project must stay importable; a configured path comes after it.
        "PYTHONPATH": os.pathsep.join(p for p in (str(project_dir), configured_path) if p),
    }
    env.update(reserved)
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
        self._responses = ResponseReader(self._response_read)
        self._max_memory_mb = 0
        self._closed = False

    @property
    def pid(self) -> int:
        return self._popen.pid

    def alive(self) -> bool:
        return self._popen.poll() is None

    def wait_ready(self) -> HandlerOutcome | None:
        """None once the handler is imported; otherwise why the worker is unusable."""
        line = self._responses.read_line(time.monotonic() + INIT_TIMEOUT_S)
        if line is None:
            self.kill()
            return lambda_errors.init_timed_out(self.function.handler, INIT_TIMEOUT_S)
        if not line:
            return self._exit_failure()
        message = json.loads(line)
        if message.get("ready"):
            return None
        return HandlerOutcome.from_json(message["init_error"])

    def run(
        self,
        event: Mapping[str, Any],
        request_id: str,
        options: InvokeOptions | None = None,
        sink: OutputSink | None = None,
    ) -> InvocationResult:
        """One invocation, bounded by the function's timeout (not by the reply's transfer);
        ``sink`` gets its whole output."""
        context = ContextFields.for_invocation(
            self.function, self.identity, request_id, self.log_stream, options
        )
        request = json.dumps({"event": event, "context": context.to_json()}).encode() + b"\n"
        os.ftruncate(self._log_fd, 0)
        started_at = time.time()
        deadline = time.monotonic() + self.function.timeout_s
        with contextlib.suppress(BrokenPipeError):  # it died while idle; reading says how
            _write_all(self._request_write, request)
        line = self._responses.read_line(deadline)
        ended_at = self._responses.first_byte_at
        if line is None:
            self.kill()
            outcome, ended_at = lambda_errors.timed_out(self.function.timeout_s), time.time()
        elif not line:
            outcome = self._exit_failure()
        else:
            outcome = outcome_of(json.loads(line))
        result = outcome.to_result(started_at, self.logs(), ended_at)
        return self._framed(result, request_id, self.max_memory_mb(), sink, 0, None)

    def run_batch(
        self, runs: Sequence[tuple[Mapping[str, Any], str]], sink: OutputSink | None = None
    ) -> list[InvocationResult]:
        """Several invocations ``(event, request id)`` in one message, one after the other.

        Each is bounded by the function's timeout from the end of the one
        before (as the parent saw it) and judged by the times the worker
        measured; each gets its own slice of the log. The list stops at the
        first run that timed out or crashed: the worker is gone, and the runs
        after it were never started.
        """
        function = self.function
        # Every run's context is the function's but for its request and trace ids:
        # the fields are made once per batch, not once per run.
        fields = ContextFields.for_invocation(function, self.identity, "", self.log_stream)
        shared = fields.to_json()
        message = {
            "runs": [
                {
                    "event": event,
                    "context": {**shared, "aws_request_id": request_id, "trace_id": new_trace_id()},
                }
                for event, request_id in runs
            ]
        }
        os.ftruncate(self._log_fd, 0)
        started_at = time.time()
        with contextlib.suppress(BrokenPipeError):  # it died while idle; reading says how
            _write_all(self._request_write, json.dumps(message).encode() + b"\n")
        results: list[InvocationResult] = []
        log_start = 0
        for _, request_id in runs:
            line = self._responses.read_line(time.monotonic() + function.timeout_s)
            if not line:
                results.append(self._lost_run(line, started_at, log_start, request_id, sink))
                break
            reply = json.loads(line)
            run = reply.pop("run")
            outcome = outcome_of(reply)
            if run["ended_at"] - run["started_at"] > function.timeout_s:
                outcome = lambda_errors.timed_out(function.timeout_s)
            logs = self._log_slice(log_start, run["log_end"])
            result = outcome.to_result(run["started_at"], logs, run["ended_at"])
            self._max_memory_mb = run["max_rss_kb"] // 1024  # as /proc would say, unread
            end = run["log_end"]  # None: its stdout was gone; the slice ran to the file's end
            memory = self._max_memory_mb
            results.append(self._framed(result, request_id, memory, sink, log_start, end))
            started_at = run["ended_at"]
            log_start = end if end is not None else os.fstat(self._log_fd).st_size
        return results

    def _lost_run(
        self,
        line: bytes | None,
        started_at: float,
        log_start: int,
        request_id: str,
        sink: OutputSink | None,
    ) -> InvocationResult:
        """The run of a batch during which the worker timed out (None) or died (b"")."""
        if line is None:
            self.kill()
            outcome = lambda_errors.timed_out(self.function.timeout_s)
        else:
            outcome = self._exit_failure()
        result = outcome.to_result(started_at, self._log_slice(log_start, None), time.time())
        return self._framed(result, request_id, self.max_memory_mb(), sink, log_start, None)

    def _framed(
        self,
        result: InvocationResult,
        request_id: str,
        memory: int,
        sink: OutputSink | None = None,
        start: int = 0,
        end: int | None = None,
    ) -> InvocationResult:
        """``result`` framed as Lambda frames a run's log; ``sink`` gets the run's whole
        output, from ``start`` to ``end`` (None: the end) of the log file."""
        memory_mb = self.function.memory_mb
        whole = framed(result, request_id, memory_mb, memory, self.log_stream)
        if sink is not None:
            head, tail = frame(result, request_id, memory_mb, memory)
            stop = os.fstat(self._log_fd).st_size if end is None else end
            pieces = partial(file_pieces, self._log_fd, start, stop)
            sink(RunOutput(self.function, request_id, whole, head, tail, pieces))
        return whole

    def _log_slice(self, start: int, end: int | None) -> str:
        """The log from ``start`` to ``end`` (None: the end of the file); its last 64 KiB."""
        stop = os.fstat(self._log_fd).st_size if end is None else end
        if stop <= start:  # a silent run (most of a replay's): no read
            return ""
        first = max(start, stop - LOG_LIMIT_BYTES)
        text = os.pread(self._log_fd, stop - first, first).decode("utf-8", "replace")
        return f"[{first - start} earlier bytes dropped]\n{text}" if first > start else text

    def max_memory_mb(self) -> int:
        """The worker's peak resident memory so far (the last reading once it is gone)."""
        status = Path(f"/proc/{self._popen.pid}/status")
        with contextlib.suppress(OSError, ValueError):
            for line in status.read_text(encoding="ascii").splitlines():
                if line.startswith("VmHWM:"):
                    self._max_memory_mb = int(line.split()[1]) // 1024
        return self._max_memory_mb

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
        return lambda_errors.exited(lambda_errors.exit_status(self._popen.wait()))


class ResponseReader:
    """Reads the worker's reply lines from a pipe, in time linear in their size.

    The deadline bounds the wait for a reply's first byte: by then the
    function has returned, so a large reply's transfer does not count against
    its timeout. ``now`` is the monotonic clock (injected in tests).
    """

    def __init__(self, fd: int, now: Callable[[], float] = time.monotonic) -> None:
        self._fd = fd
        self._now = now
        # poll(2), not select(2): select fails on descriptors past 1024.
        self._selector = selectors.PollSelector()
        self._selector.register(fd, selectors.EVENT_READ)
        self._chunks: list[bytes] = []
        self.first_byte_at: float | None = None
        """Wall-clock time the last reply began to arrive."""

    def read_line(self, deadline: float) -> bytes | None:
        """The next line; b"" when the writer is gone, None when nothing came by the deadline."""
        self.first_byte_at = time.time() if self._chunks else None
        while not self._chunks or b"\n" not in self._chunks[-1]:
            if not self._chunks:
                remaining = deadline - self._now()
                if remaining <= 0:
                    return None
                # poll(2) takes at most ~24 days: a longer wait goes round again.
                if not self._selector.select(min(remaining, 86400.0)):
                    continue
            chunk = os.read(self._fd, 1 << 20)
            if not chunk:
                self._chunks.clear()
                return b""
            if not self._chunks:
                self.first_byte_at = time.time()
            self._chunks.append(chunk)
        data = b"".join(self._chunks)
        line, _, rest = data.partition(b"\n")
        self._chunks = [rest] if rest else []
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
