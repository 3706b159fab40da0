"""Prometheus metrics of one app (names: docs/results-api.md), in a registry of its own.

Every request is counted in one place, the ``RequestMetrics`` middleware: its
route template from the scope Starlette's router fills in, its status from the
response sent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from time import perf_counter

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Every path no route serves, and every method outside METHODS, shares one
# label value: a scan of random paths must not create a series per path.
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"
# POSTs take about a millisecond, reads of large pages up to seconds.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """The registry and the request metrics of one app; ``results_api_results`` is
    ``count()``, called at each scrape."""

    def __init__(self, count: Callable[[], int]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._requests = Counter(
            "results_api_requests_total",
            "HTTP requests answered, by method, route template and status.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self._duration = Histogram(
            "results_api_request_duration_seconds",
            "Time from a request's arrival at the app to its last response byte.",
            ("method", "route"),
            buckets=BUCKETS,
            registry=self.registry,
        )
        gauge = Gauge(
            "results_api_results", "Results stored in the database.", registry=self.registry
        )
        gauge.set_function(count)
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        if method not in METHODS:
            method = OTHER_METHOD
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self._requests.labels(method, route, str(status)),
                self._duration.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def exposition(self) -> bytes:
        """The text format; collects ``results_api_results`` (a store read): not on the loop."""
        return generate_latest(self.registry)


class RequestMetrics:
    """ASGI middleware: every HTTP request counted and timed in ``metrics``."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = 500  # what the client sees when the app fails before answering

        def send_status(message: Message) -> Awaitable[None]:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            return send(message)  # awaited by the caller: no coroutine of its own

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The route template the router matched (``/result/{id}``), else UNMATCHED.
            route = getattr(scope.get("route"), "path", UNMATCHED)
            self.metrics.observe(scope["method"], route, status, perf_counter() - started)
