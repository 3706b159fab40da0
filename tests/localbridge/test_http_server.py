"""The background HTTP server under the Invoke API and the console: what it reports."""

from __future__ import annotations

import socket

import pytest

from localbridge.http_server import BackgroundHttpServer, GuardedRequestHandler


def report_of(error: Exception, capsys: pytest.CaptureFixture[str]) -> str:
    """What the server prints when handling a request ended on ``error``."""
    server = BackgroundHttpServer("127.0.0.1", 0, GuardedRequestHandler)
    listening = server._server  # the socketserver itself: its error report is the subject
    assert listening is not None
    try:
        with socket.socket() as request:
            try:
                raise error
            except type(error):
                listening.handle_error(request, ("127.0.0.1", 50000))
    finally:
        server.stop()
    return capsys.readouterr().err


@pytest.mark.parametrize("gone", [BrokenPipeError(32, "Broken pipe"), ConnectionResetError()])
def test_a_client_gone_before_its_answer_prints_no_traceback(
    gone: Exception, capsys: pytest.CaptureFixture[str]
) -> None:
    assert report_of(gone, capsys) == ""


def test_a_servers_own_error_still_prints_its_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert "Traceback" in report_of(ValueError("a bug"), capsys)
