"""The console as a service of ``localbridge run``, and on its own for ``localbridge console``.

``ConsoleService`` takes its port when made (a busy explicit ``--console-port``
stops ``run`` before anything fires; a busy default port only skips the
console with a warning), then serves once the runtime starts, feeding the
metrics from the runtime's report listener.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from localbridge.console.server import ConsoleServer
from localbridge.console.sources import LedgerSource, RuntimeSource, Source
from localbridge.ledger.browse import LedgerReader
from localbridge.ledger.pauses import PauseStore
from localbridge.project.config import ConfigError

if TYPE_CHECKING:
    from localbridge.console.app import Console
    from localbridge.runtime.loop import Runtime

log = logging.getLogger("localbridge")


def results_url_of(source: Source, explicit: str | None) -> Callable[[], str | None]:
    """``explicit``, else the ``RESULTS_API_URL`` the stage gives its functions."""

    def url() -> str | None:
        if explicit:
            return explicit
        return next((f.results_api_url for f in source.functions() if f.results_api_url), None)

    return url


def results_token_of(source: Source) -> Callable[[], str | None]:
    """The ``RESULTS_API_TOKEN`` the stage gives its functions, else this process's."""

    def token() -> str | None:
        if isinstance(source, RuntimeSource):
            for function in source.runtime.functions():
                if found := function.spec.environment.get("RESULTS_API_TOKEN"):
                    return found
        return os.environ.get("RESULTS_API_TOKEN") or None

    return token


def open_console(ledger: Path, source_of: Callable[[LedgerReader], Source],
                 results_api_url: str | None) -> tuple[Console, Callable[[], None]]:  # fmt: skip
    """A ``Console`` over ``ledger``, and what closes it."""
    # The pages, their HTTP client and the metrics' registry are imported
    # when a console opens: `run` opens it once its first tick is scheduled.
    from localbridge.console.app import Console
    from localbridge.console.guard import new_token
    from localbridge.console.metrics import make_registry

    reader = LedgerReader(ledger)
    pauses = PauseStore.open(ledger)
    source = source_of(reader)
    registry, metrics = make_registry(reader, source.functions, source.paused)
    if isinstance(source, RuntimeSource):
        source.runtime.add_report_listener(metrics.observe)
    url = results_url_of(source, results_api_url)
    console = Console(reader, pauses, source, registry, new_token(), url, results_token_of(source))

    def close() -> None:
        pauses.close()
        reader.close()

    return console, close


def import_http_client() -> None:
    """Import the console's slowest dependency, its HTTP client (requests).

    ``run`` calls this (``ConsoleService.prepare``) on a background thread
    while it waits for the app's discovery subprocess, time it would
    otherwise spend idle, rather than after the first tick.
    """
    import localbridge.console.results  # noqa: F401


def bind_server(host: str, port: int, required: bool) -> ConsoleServer | None:
    server = ConsoleServer(host, port)
    try:
        server.bind()
    except OSError as error:
        problem = (
            f"cannot serve the console on {host}:{port} ({error.strerror}); "
            "pass another --console-port"
        )
        if required:
            raise ConfigError(problem) from None
        log.warning(f"{problem}; running without it")
        return None
    return server


class ConsoleService:
    """The console beside a running runtime (an ``abc.Service``)."""

    def __init__(
        self, host: str, port: int, required: bool, results_api_url: str | None = None
    ) -> None:
        self._server = bind_server(host, port, required)
        self._results_api_url = results_api_url
        self._close: Callable[[], None] | None = None

    def prepare(self) -> None:
        """What can be done before ``start`` on another thread: the slowest import."""
        if self._server is not None:
            import_http_client()

    @property
    def url(self) -> str | None:
        return None if self._server is None else self._server.url

    def start(self, runtime: Runtime) -> None:
        if self._server is None:
            return
        console, self._close = open_console(
            runtime.ledger.path, lambda reader: RuntimeSource(runtime), self._results_api_url
        )
        self._server.start(console)
        print(f"localbridge: console on {self._server.url}", flush=True)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._close is not None:
            self._close()
            self._close = None


def serve_ledger(
    server: ConsoleServer, ledger: Path, results_api_url: str | None
) -> Callable[[], None]:
    """``localbridge console``: browse ``ledger``; returns what stops it."""
    console, close = open_console(ledger, LedgerSource, results_api_url)
    server.start(console)

    def stop() -> None:
        server.stop()
        close()

    return stop
