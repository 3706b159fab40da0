"""The app factory: nothing is created until ``create_app`` is called.

The app is a thin ASGI front: POST /result, the hot path, goes straight to its
own endpoint (``api/post.py``); everything else (reads, health, docs, every
404/405) goes to FastAPI, which also runs the lifespan that opens the store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from api.fast_post import FastPost, Headers
from api.handlers import install_error_handlers
from api.metrics import ApiMetrics, measured
from api.post import PostEndpoint
from api.routes import add_routes, document_post
from api.service import ApiContext, Clock, ResultService, system_clock
from api.settings import Settings
from api.storage import ResultStore


class ResultsApp:
    """The results API as one ASGI app; ``fastapi`` serves all but POST /result.

    Every HTTP request is counted and timed in ``metrics`` (api/metrics.py).
    """

    def __init__(self, fastapi: FastAPI, metrics: ApiMetrics):
        self.fastapi = fastapi
        self.metrics = metrics
        self.post = PostEndpoint(lambda: self.context, metrics)

    @property
    def context(self) -> ApiContext:
        context: ApiContext = self.fastapi.state.context
        return context

    def fast_post(
        self,
        write: Callable[[bytes], None],
        default_headers: Headers,
        on_response: Callable[[FastPost], None],
    ) -> FastPost | None:
        """A post the HTTP protocol answers itself (api/fast_post.py); None before
        the lifespan opened the store."""
        context: ApiContext | None = getattr(self.fastapi.state, "context", None)
        if context is None:
            return None
        return FastPost(context, self.metrics, write, default_headers, on_response)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fastapi(scope, receive, send)  # the lifespan
        elif scope["path"] == "/result" and scope["method"] == "POST":
            await self.post(scope, receive, send)  # counts itself in ``metrics``
        else:
            await measured(self.fastapi, self.metrics, None, scope, receive, send)


def create_app(settings: Settings, clock: Clock = system_clock) -> ResultsApp:
    """The results API over the SQLite file in ``settings``, opened when the app starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = ResultStore.open(settings.db_path)
        service = ResultService(store, clock)
        app.state.context = ApiContext(service, settings.token)
        try:
            yield
        finally:
            service.close()
            store.close()

    metrics = ApiMetrics()  # one registry per app: nothing shared between instances

    app = FastAPI(
        title="metric-jobs results API",
        summary="Stores the JSON results metric jobs post, and returns them.",
        version="1",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    add_routes(app)
    document_post(app)
    app.state.metrics = metrics
    results = ResultsApp(app, metrics)
    # Read at scrape time, through the context the lifespan sets.
    metrics.count_results(lambda: results.context.service.count())
    return results
