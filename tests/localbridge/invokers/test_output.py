"""Thread mode's per-thread capture of prints."""

from __future__ import annotations

import io
import sys
import threading

import pytest

from localbridge.invokers.output import LOG_LIMIT_CHARS, OutputCapture, bounded


def test_only_the_capturing_thread_is_captured(monkeypatch: pytest.MonkeyPatch) -> None:
    console = io.StringIO()
    monkeypatch.setattr(sys, "stdout", console)
    capture = OutputCapture()
    capture.install()
    try:
        with capture.capturing() as captured:
            print("from the run")
            other = threading.Thread(target=print, args=("from elsewhere",))
            other.start()
            other.join()
        print("after the run")
    finally:
        capture.uninstall()

    assert captured == ["from the run", "\n"]
    assert console.getvalue() == "from elsewhere\nafter the run\n"
    assert sys.stdout is console


def test_uninstall_leaves_a_stream_someone_else_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    capture = OutputCapture()
    capture.install()
    replacement = io.StringIO()
    sys.stdout = replacement

    capture.uninstall()

    assert sys.stdout is replacement


def test_bounded_keeps_the_tail() -> None:
    assert bounded(["short"]) == "short"
    text = bounded(["a" * 10, "b" * LOG_LIMIT_CHARS])
    assert text == "[10 earlier characters dropped]\n" + "b" * LOG_LIMIT_CHARS


def test_a_runs_prints_are_cut_as_they_come() -> None:
    capture = OutputCapture()
    buffer = capture.start()
    try:
        for number in range(3000):
            buffer.append(f"{number:05d}" + "x" * 95 + "\n")  # as a routed write does
            assert sum(map(len, buffer)) <= 2 * LOG_LIMIT_CHARS + 101
    finally:
        capture.stop()
    text = bounded(buffer)
    heading, _, kept = text.partition("\n")
    assert heading == f"[{3000 * 101 - LOG_LIMIT_CHARS} earlier characters dropped]"
    assert kept == "".join(f"{n:05d}" + "x" * 95 + "\n" for n in range(3000))[-LOG_LIMIT_CHARS:]
