"""The parent's reader of worker replies: linear in their size, timed to their first byte."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import pytest

from localbridge.invokers.worker_handle import ResponseReader


class JumpingClock:
    """A monotonic clock that leaps ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read, write = os.pipe()
    try:
        yield read, write
    finally:
        for fd in (read, write):
            with contextlib.suppress(OSError):
                os.close(fd)


def test_a_reply_that_began_before_the_deadline_is_read_whole(pipe: tuple[int, int]) -> None:
    read, write = pipe
    reply = b'"' + b"x" * (4 * 1024 * 1024) + b'"'
    # Each read of the clock passes the deadline: only the first byte's wait may use it.
    reader = ResponseReader(read, now=JumpingClock(step=100.0))
    os.write(write, reply[:1])  # the function has returned; its reply starts to flow
    writer = threading.Thread(target=lambda: os.write(write, reply[1:] + b"\n"))
    writer.start()
    try:
        line = reader.read_line(deadline=150.0)
    finally:
        writer.join()
    assert line == reply
    assert reader.first_byte_at is not None


def test_no_reply_by_the_deadline_is_a_timeout(pipe: tuple[int, int]) -> None:
    read, _ = pipe
    reader = ResponseReader(read, now=JumpingClock(step=100.0))
    assert reader.read_line(deadline=50.0) is None


def test_lines_arrive_in_order_and_a_closed_pipe_reads_empty(pipe: tuple[int, int]) -> None:
    read, write = pipe
    reader = ResponseReader(read)
    os.write(write, b"first\nsecond\nthi")
    os.close(write)
    assert [reader.read_line(1e9) for _ in range(2)] == [b"first", b"second"]
    assert reader.read_line(1e9) == b""
