"""The FastAPI routes but POST /result (``api/post.py``): reads, delete, health, metrics.

Every store call runs on a worker thread (FastAPI runs plain ``def`` endpoints in
its thread pool; the page stream hops there per chunk), never on the event loop.
A page is sent in chunks of about PAGE_CHUNK_BYTES of stored results, each read
when the client has taken the previous one, so a read's memory is bounded
whatever the stored results' size and the page's ``limit``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from api.errors import JSON, ApiError, json_text
from api.post import UNAUTHORIZED, add_post_route, authorize
from api.records import StoredResult
from api.service import ApiContext, ResultService, record_json, records_json, time_filter
from api.storage import Filter

MAX_ID = 2**63 - 1  # SQLite's largest integer
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
PAGE_CHUNK_BYTES = 1024 * 1024
SINCE = "only results received at or after this ISO 8601 instant, e.g. 2022-12-21T00:00:00Z"
UNTIL = "only results received before this ISO 8601 instant"
RESULT_ID = Path(alias="id", ge=1, le=MAX_ID, description="the result's id")
DELETE_RESPONSES: dict[int | str, dict[str, Any]] = {
    204: {"description": "deleted"},
    401: {"description": UNAUTHORIZED},
    404: {"description": "no result with this id"},
    503: {"description": "the store failed; nothing was deleted"},
}


def context_of(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


async def require_token(request: Request) -> None:
    """The bearer token, as POST /result checks it; before parameters are validated,
    so a caller without the token learns nothing about the route's parameters."""
    given = request.headers.getlist("authorization")
    if len(given) > 1:
        raise ApiError(400, "send at most one Authorization header")
    authorize(given[0] if given else None, context_of(request).token)


async def page_chunks(
    service: ResultService, first: list[StoredResult], limit: int, only: Filter
) -> AsyncIterator[str]:
    """The page as JSON text, one chunk per read of at most about PAGE_CHUNK_BYTES."""
    yield "[" + records_json_items(first)
    sent, last = len(first), first[-1].id
    while sent < limit:
        chunk = await run_in_threadpool(service.page, last, limit - sent, only, PAGE_CHUNK_BYTES)
        if not chunk:
            break
        yield "," + records_json_items(chunk)
        sent, last = sent + len(chunk), chunk[-1].id
    yield "]"


def records_json_items(results: list[StoredResult]) -> str:
    return ",".join(record_json(result) for result in results)


def add_routes(app: FastAPI) -> None:
    """Routes go on the app itself: an included router would hide them from ``app.routes``.

    POST /result first: routes are matched in order, and posts are most requests.
    """
    add_post_route(app)

    @app.get("/result")
    async def list_results(
        request: Request,
        metric: Annotated[str | None, Query(description="only this metric")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        after_id: Annotated[int, Query(ge=0, le=MAX_ID, description="page after this id")] = 0,
        since: Annotated[str | None, Query(description=SINCE)] = None,
        until: Annotated[str | None, Query(description=UNTIL)] = None,
    ) -> Response:
        """Stored records, oldest first; large pages are streamed chunk by chunk."""
        service = context_of(request).service
        only = time_filter(metric, since, until)
        # The first chunk is read before answering, so a store failure is still a 503.
        first = await run_in_threadpool(service.page, after_id, limit, only, PAGE_CHUNK_BYTES)
        if len(first) == limit or sum(len(r.body) for r in first) < PAGE_CHUNK_BYTES:
            return json_text(records_json(first))  # the whole page: no need to stream
        return StreamingResponse(page_chunks(service, first, limit, only), media_type=JSON)

    @app.get("/result/{id}")
    def get_result(request: Request, result_id: Annotated[int, RESULT_ID]) -> Response:
        """One stored record."""
        return json_text(record_json(context_of(request).service.get(result_id)))

    @app.delete(
        "/result/{id}",
        status_code=204,
        dependencies=[Depends(require_token)],
        responses=DELETE_RESPONSES,
    )
    def delete_result(request: Request, result_id: Annotated[int, RESULT_ID]) -> Response:
        """Delete one stored record; its Idempotency-Key may then be posted anew."""
        context_of(request).service.delete(result_id)
        return Response(status_code=204)

    @app.get("/metrics", response_class=Response)
    def metrics(request: Request) -> Response:
        """Prometheus metrics of this server (docs/results-api.md); counts the store."""
        # A plain def: FastAPI runs it on a worker thread, so the count never blocks the loop.
        return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health")
    def health(request: Request) -> Response:
        """The store's state: path, result count, schema version, journal mode (503 if unusable)."""
        state = context_of(request).service.state()
        return json_text(json.dumps({"status": "ok", **asdict(state)}))
