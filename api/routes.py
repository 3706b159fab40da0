"""HTTP routes: thin adapters from requests to ResultService and back."""

from __future__ import annotations

import hmac
import json
from dataclasses import asdict, dataclass
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query
from starlette.requests import Request
from starlette.responses import Response

from api.body import MAX_BODY_BYTES, parse_object, read_limited, require_json_media_type
from api.errors import ApiError
from api.responses import json_text
from api.service import ResultService, check_idempotency_key, record_json, records_json

MAX_ID = 2**63 - 1  # SQLite's largest integer
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
JSON_OBJECT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}

POST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "a repeat of an Idempotency-Key with the same JSON value: the original"},
    400: {"description": "malformed JSON or a bad Idempotency-Key"},
    401: {"description": "RESULTS_API_TOKEN is set and the bearer token is missing or wrong"},
    409: {"description": "the Idempotency-Key was already used for a different result"},
    413: {"description": f"the body is over {MAX_BODY_BYTES} bytes"},
    415: {"description": "the Content-Type is not JSON"},
    422: {"description": "the JSON value is not an object"},
    503: {"description": "the store failed; nothing was stored"},
}


@dataclass(frozen=True)
class ApiContext:
    """What routes need at request time; set on ``app.state`` when the app starts."""

    service: ResultService
    token: str | None


def context_of(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


def authorize(header: str | None, token: str | None) -> None:
    """401 unless ``header`` is ``Bearer <token>`` (compared in constant time)."""
    if token is None:
        return
    scheme, _, given = (header or "").partition(" ")
    # Header values arrive decoded as Latin-1: encoding them back gives the raw bytes.
    ok = scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("latin-1"), token.encode()
    )
    if not ok:
        raise ApiError(
            401,
            "missing or wrong bearer token: send 'Authorization: Bearer <RESULTS_API_TOKEN>'",
            {"WWW-Authenticate": "Bearer"},
        )


def idempotency_key(request: Request) -> str | None:
    keys = request.headers.getlist("idempotency-key")
    if len(keys) > 1:
        raise ApiError(400, "send at most one Idempotency-Key header")
    return check_idempotency_key(keys[0]) if keys else None


def add_routes(app: FastAPI) -> None:
    """Routes go on the app itself: an included router would hide them from ``app.routes``."""

    @app.post("/result", status_code=201, openapi_extra=JSON_OBJECT_BODY, responses=POST_RESPONSES)
    async def post_result(request: Request) -> Response:
        """Store a JSON object; 201 with the record, 200 when its Idempotency-Key repeats."""
        context = context_of(request)
        authorize(request.headers.get("authorization"), context.token)
        require_json_media_type(request.headers.get("content-type"))
        key = idempotency_key(request)
        result = parse_object(await read_limited(request))
        # SQLite work runs on the event loop, grouped by the service's writer:
        # one short commit for many posts is cheaper than a thread hop per post.
        posted = await context.service.post(result, key)
        return json_text(record_json(posted.result), 201 if posted.created else 200)

    @app.get("/result")
    def list_results(
        request: Request,
        metric: Annotated[str | None, Query(description="only this metric")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        after_id: Annotated[int, Query(ge=0, le=MAX_ID, description="page after this id")] = 0,
    ) -> Response:
        """Stored records, oldest first."""
        return json_text(records_json(context_of(request).service.page(after_id, limit, metric)))

    @app.get("/result/{result_id}")
    def get_result(request: Request, result_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
        """One stored record."""
        return json_text(record_json(context_of(request).service.get(result_id)))

    @app.get("/health")
    def health(request: Request) -> Response:
        """The store's state: path, result count, schema version, journal mode."""
        state = context_of(request).service.state()
        return json_text(json.dumps({"status": "ok", **asdict(state)}))
