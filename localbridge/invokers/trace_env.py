"""``_X_AMZN_TRACE_ID`` in the process's environment, a new value per run, in constant memory.

Lambda's runtime writes each invocation's trace header into
``os.environ["_X_AMZN_TRACE_ID"]``; handlers (and the X-Ray SDK) read it
there, and processes a handler starts inherit it. Doing the same with
``os.environ[...] = value`` calls glibc's ``setenv``, which keeps every
distinct value it was ever given for the life of the process: a new trace
id per run grows memory by the size of one (~150 B) for every run, without
end.

``TraceIdVariable`` owns one buffer ``_X_AMZN_TRACE_ID=<value>`` handed to
``putenv`` (which keeps the pointer, not a copy) and writes each new value
into it in place; ``os.environ``'s own mapping is updated without a call to
``setenv``. Memory stays the same however many runs there are. A value too
long for the buffer (never one made by ``events.new_trace_id``) goes through
``os.environ`` as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading

NAME = "_X_AMZN_TRACE_ID"
CAPACITY = 256
"""Bytes for the value: a trace header is about 80."""


def _libc() -> ctypes.CDLL | None:
    path = ctypes.util.find_library("c")
    if path is None:
        return None
    try:
        libc = ctypes.CDLL(path, use_errno=True)
    except OSError:
        return None
    libc.putenv.argtypes = [ctypes.c_void_p]
    libc.putenv.restype = ctypes.c_int
    libc.getenv.argtypes = [ctypes.c_char_p]
    libc.getenv.restype = ctypes.c_void_p
    return libc


class TraceIdVariable:
    """Sets ``_X_AMZN_TRACE_ID`` for the process (thread-safe; the last value wins)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._libc = _libc()
        self._prefix = f"{NAME}=".encode()
        self._buffer = ctypes.create_string_buffer(len(self._prefix) + CAPACITY + 1)
        self._buffer.raw = self._prefix + b"\0" * (CAPACITY + 1)

    def set(self, value: str) -> None:
        encoded = value.encode()
        if self._libc is None or len(encoded) > CAPACITY or b"\0" in encoded:
            os.environ[NAME] = value
            return
        with self._lock:
            ctypes.memmove(
                ctypes.addressof(self._buffer) + len(self._prefix),
                encoded + b"\0",
                len(encoded) + 1,
            )
            self._install()
            # os.environ's mapping, without its setenv: the C environment holds our buffer.
            os.environ._data[NAME.encode()] = encoded  # type: ignore[attr-defined]

    def _install(self) -> None:
        """Put the buffer in the C environment unless it already is there.

        Anyone's ``setenv`` of the name (a handler's ``os.environ[...] = ...``)
        replaces the entry; ``putenv`` of our buffer again only swaps a pointer.
        """
        assert self._libc is not None
        value_at = ctypes.addressof(self._buffer) + len(self._prefix)
        if self._libc.getenv(NAME.encode()) != value_at:
            self._libc.putenv(ctypes.addressof(self._buffer))


_PROCESS_VARIABLE: TraceIdVariable | None = None
_CREATE_LOCK = threading.Lock()


def set_trace_id(value: str) -> None:
    """Make ``value`` the process's ``_X_AMZN_TRACE_ID`` without growing its memory."""
    global _PROCESS_VARIABLE
    with _CREATE_LOCK:
        if _PROCESS_VARIABLE is None:
            _PROCESS_VARIABLE = TraceIdVariable()
        variable = _PROCESS_VARIABLE
    variable.set(value)
