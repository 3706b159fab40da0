"""What api/protocol.py uses of uvicorn's internals is still there, as it was written for.

uvicorn has no setting for request deadlines, so api/protocol.py subclasses its
httptools protocol. Such a subclass breaks silently when uvicorn renames or
reshapes what it overrides or reads: these tests fail first, naming what moved.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path

import uvicorn
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from api.protocol import UVICORN_VERSION, BoundedHttpProtocol

LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"
# The methods the protocol overrides or calls, with the parameters it passes.
METHODS = {
    "connection_made": ["self", "transport"],
    "connection_lost": ["self", "exc"],
    "data_received": ["self", "data"],
    "on_message_begin": ["self"],
    "on_headers_complete": ["self"],
    "on_body": ["self", "body"],
    "on_message_complete": ["self"],
    "_unset_keepalive_if_required": ["self"],
}
# Attributes the protocol reads on itself, and on the request cycle it holds.
PROTOCOL_ATTRIBUTES = {"loop", "transport", "parser", "client", "cycle", "app", "headers"}
CYCLE_ATTRIBUTES = {"transport", "keep_alive", "response_started", "response_complete"}


async def ignore(scope: object, receive: object, send: object) -> None:
    pass


def test_the_installed_uvicorn_is_the_one_the_protocol_was_written_for() -> None:
    assert uvicorn.__version__ == UVICORN_VERSION
    assert f"uvicorn=={UVICORN_VERSION}" in LOCK.read_text().split()


def test_the_methods_it_overrides_or_calls_keep_their_parameters() -> None:
    for name, parameters in METHODS.items():
        method: Callable[..., object] = getattr(HttpToolsProtocol, name)
        assert list(inspect.signature(method).parameters) == parameters, name


def test_the_attributes_it_reads_are_set_by_uvicorn() -> None:
    loop = asyncio.new_event_loop()
    try:
        protocol = HttpToolsProtocol(Config(ignore), ServerState(), {}, _loop=loop)
        missing = {name for name in PROTOCOL_ATTRIBUTES if not hasattr(protocol, name)}
    finally:
        loop.close()
    assert not missing
    cycle_init = inspect.getsource(RequestResponseCycle.__init__)
    assert {name for name in CYCLE_ATTRIBUTES if f"self.{name} =" not in cycle_init} == set()


def test_the_configured_protocol_is_what_uvicorn_instantiates() -> None:
    configured = BoundedHttpProtocol.configured(
        header_timeout=1.5, body_timeout=2.5, drain_limit=10
    )
    assert issubclass(configured, HttpToolsProtocol)
    assert (configured.header_timeout, configured.body_timeout) == (1.5, 2.5)
    assert configured.drain_limit == 10
    loop = asyncio.new_event_loop()
    try:
        protocol = configured(Config(ignore), ServerState(), {}, _loop=loop)
    finally:
        loop.close()
    assert protocol.body_pending is False


def test_what_the_head_checks_read_is_where_they_read_it() -> None:
    """The 431 sums ``self.url`` and ``self.headers``; the 421 swaps ``self.app``, which
    ``on_headers_complete`` must read when it starts the request's cycle."""
    begin = inspect.getsource(HttpToolsProtocol.on_message_begin)
    assert 'self.url = b""' in begin
    assert "self.headers = []" in begin
    assert "app = self.app" in inspect.getsource(HttpToolsProtocol.on_headers_complete)
