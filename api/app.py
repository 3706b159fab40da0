"""The app factory: nothing is created until ``create_app`` is called.

Its lifespan opens the store and starts the service; ``RequestMetrics`` counts
every request; every error is answered as ``{"error"}`` (``api/errors.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.metrics import ApiMetrics, RequestMetrics
from api.routes import add_routes
from api.service import ApiContext, Clock, ResultService, system_clock
from api.settings import Settings
from api.storage import ResultStore


def create_app(settings: Settings, clock: Clock = system_clock) -> FastAPI:
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

    app = FastAPI(
        title="metric-jobs results API",
        summary="Stores the JSON results metric jobs post, and returns them.",
        version="1",
        lifespan=lifespan,
        # The metrics are the app's own Prometheus registry: FastAPI's
        # OpenTelemetry hooks would only look up unset providers per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # Routes match in order: the docs' are added after the API's (``setup``).
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    add_routes(app)
    app.openapi_url, app.docs_url, app.redoc_url = "/openapi.json", "/docs", "/redoc"
    app.setup()
    # The count is read at each scrape, through the context the lifespan sets.
    app.state.metrics = metrics = ApiMetrics(lambda: app.state.context.service.count())
    app.add_middleware(RequestMetrics, metrics=metrics)
    return app
