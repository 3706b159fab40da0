"""The emulated AWS answers only the host names a local server may be reached by.

Without this, a web page could point a name of its own at 127.0.0.1 (DNS
rebinding) and drive the whole endpoint: deploy code, invoke it, read logs.
The rule is localbridge's (``localbridge.hosts``): loopback names when bound
to a loopback address, plus ``ALLOWED_HOSTS`` when bound to another.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from localbridge.hosts import HostPolicy

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class HostCheck:
    """WSGI middleware: 421 with AWS's error shape for a refused ``Host``, else ``app``."""

    def __init__(self, app: WsgiApp, policy: HostPolicy) -> None:
        self._app = app
        self._policy = policy

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        host = environ.get("HTTP_HOST")
        if self._policy.allows(host):
            return self._app(environ, start_response)
        message = self._policy.refusal(host)
        body = json.dumps({"__type": "MisdirectedRequest", "message": message}).encode()
        start_response(
            "421 Misdirected Request",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("x-amzn-ErrorType", "MisdirectedRequest"),
                ("Connection", "close"),
            ],
        )
        return [body]
