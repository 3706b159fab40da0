"""The app factory: nothing is created until ``create_app`` is called."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.handlers import install_error_handlers
from api.routes import ApiContext, add_routes
from api.service import Clock, ResultService, system_clock
from api.settings import Settings
from api.storage import ResultStore


def create_app(settings: Settings, clock: Clock = system_clock) -> FastAPI:
    """The results API over the SQLite file in ``settings``, opened when the app starts."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = ResultStore.open(settings.db_path)
        app.state.context = ApiContext(ResultService(store, clock), settings.token)
        try:
            yield
        finally:
            store.close()

    app = FastAPI(
        title="metric-jobs results API",
        summary="Stores the JSON results metric jobs post, and returns them.",
        version="1",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    add_routes(app)
    return app
