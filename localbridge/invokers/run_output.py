"""A run's whole output, handed to a sink that keeps all of it.

What a run's ``InvocationResult`` carries is bounded (its last 64 KiB: the
ledger stores it in the run's row). A sink that keeps everything - the
emulated AWS's CloudWatch Logs - gets the whole output instead, read in
pieces from where the worker wrote it, so a chatty run is never held in
memory at once. Standard library only.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from localbridge.model import FunctionSpec, InvocationResult

CHUNK_BYTES = 1 << 20
"""What is read from a run's output file at once."""


@dataclass(frozen=True)
class RunOutput:
    """One run's framed log: ``head`` (``START``), every piece of what the function
    printed, ``tail`` (its error, ``END``, ``REPORT``)."""

    function: FunctionSpec
    request_id: str
    result: InvocationResult
    """The run's result (its ``logs`` the bounded copy)."""
    head: str
    tail: str
    pieces: Callable[[], Iterator[str]]
    """The printed output, whole, in order, in pieces of any size."""


OutputSink = Callable[[RunOutput], None]
"""Called in the invoking thread once a run ended, before the worker runs again."""


@runtime_checkable
class StreamsOutput(Protocol):
    """An invoker that hands each run's whole output to ``output_sink`` when set."""

    output_sink: OutputSink | None


def file_pieces(fd: int, start: int, stop: int) -> Iterator[str]:
    """The text of ``fd`` from ``start`` to ``stop``, a chunk at a time (UTF-8; bytes
    that are not are replaced, as the bounded copy does)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    position = start
    while position < stop:
        data = os.pread(fd, min(CHUNK_BYTES, stop - position), position)
        if not data:  # the file was cut short under us: nothing more to read
            break
        position += len(data)
        yield decoder.decode(data)
    yield decoder.decode(b"", final=True)


def text_pieces(text: str) -> Callable[[], Iterator[str]]:
    """``pieces`` for output already in memory."""
    return lambda: iter((text,))
