"""JSON responses from text already encoded, so nothing is serialized twice."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.responses import Response

JSON = "application/json"


def json_text(text: str, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(text.encode(), status_code=status, media_type=JSON, headers=headers)


def error_json(message: str) -> str:
    return json.dumps({"error": message})


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return json_text(error_json(message), status, headers)
