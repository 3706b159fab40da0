"""What the API does with results, apart from HTTP: idempotency, records, filters."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as quote
from typing import Any, NamedTuple

from api.errors import ApiError
from api.records import NewResult, StoredResult
from api.storage import Filter, ResultStore, StoreState
from api.writer import BatchWriter

Clock = Callable[[], datetime]
# Built once: json.dumps with options builds a new encoder on every call. Parsed
# JSON cannot be circular, so the circularity check is skipped. ASCII output
# stores any parsed string safely, even a lone surrogate.
_COMPACT = json.JSONEncoder(separators=(",", ":"), check_circular=False)
_CANONICAL = json.JSONEncoder(separators=(",", ":"), sort_keys=True, check_circular=False)


def system_clock() -> datetime:
    return datetime.now(UTC)


def digest(value: Any) -> str:
    """Identifies a JSON value regardless of key order and whitespace."""
    return hashlib.sha256(_CANONICAL.encode(value).encode()).hexdigest()


def rfc3339(moment: datetime) -> str:
    """UTC with microseconds and a ``Z``: sorts as text in time order."""
    # isoformat is several times cheaper than strftime, and this runs once per post.
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    return utc.isoformat(timespec="microseconds")[:-6] + "Z"  # "+00:00" -> "Z"


def parse_instant(name: str, text: str) -> str:
    """Query parameter ``name`` as an ISO 8601 instant, in the stored ``received_at`` form."""
    try:
        moment = datetime.fromisoformat(text.strip())
        if moment.tzinfo is None:
            raise ValueError("no time zone")
        return rfc3339(moment)
    except (ValueError, OverflowError) as error:
        raise ApiError(
            422,
            f"query parameter {name!r}: {text[:60]!r} is not an ISO 8601 instant ({error});"
            " give a date, time and zone such as 2022-12-21T00:00:00Z",
        ) from None


def time_filter(metric: str | None, since: str | None, until: str | None) -> Filter:
    """The filter of GET /result: ``received_at`` in [since, until), either end open."""
    start = None if since is None else parse_instant("since", since)
    end = None if until is None else parse_instant("until", until)
    if start is not None and end is not None and end <= start:
        raise ApiError(
            422, f"query parameter 'until' ({until}) must be later than 'since' ({since})"
        )
    return Filter(metric, start, end)


def metric_of(result: dict[str, Any]) -> str | None:
    """The ``metric`` the store indexes as text, or None; 422 for a string that is
    not text (a lone surrogate, valid JSON as ``"\\ud800"``), before it reaches a batch."""
    metric = result.get("metric")
    if not isinstance(metric, str):
        return None
    try:
        metric.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = metric[error.start].encode("unicode_escape").decode()
        raise ApiError(
            422,
            f"metric holds a lone surrogate ({bad}) at character {error.start}, which is not"
            " text; send the metric as valid Unicode",
        ) from None
    return metric


def record_json(result: StoredResult) -> str:
    """The public record, built around the stored JSON text instead of re-encoding it."""
    key = "null" if result.idempotency_key is None else quote(result.idempotency_key)
    return (
        f'{{"id":{result.id},"received_at":"{result.received_at}",'
        f'"idempotency_key":{key},"result":{result.body}}}'
    )


@dataclass(frozen=True)
class ApiContext:
    """What requests need at request time; set on the app's state when it starts."""

    service: ResultService
    token: str | None


class Posted(NamedTuple):
    result: StoredResult
    created: bool


class ResultService:
    """Stores posted results once per idempotency key and reads them back."""

    def __init__(self, store: ResultStore, clock: Clock = system_clock):
        self._store = store
        self._writer = BatchWriter(store)
        self._clock = clock

    async def post(self, result: dict[str, Any], idempotency_key: str | None) -> Posted:
        """Store ``result`` through the next group commit, answered once it is committed;
        409 when its key holds a different result."""
        try:
            body, body_digest = _COMPACT.encode(result), digest(result)
        except RecursionError:
            raise ApiError(400, "body nests arrays/objects too deeply") from None
        received_at = rfc3339(self._clock())
        new = NewResult(received_at, idempotency_key, body_digest, metric_of(result), body)
        added = await self._writer.submit(new)
        if not added.created and added.body_digest != body_digest:
            raise ApiError(
                409,
                f"Idempotency-Key {idempotency_key!r} was already used for a different result"
                f" (id {added.result.id}); use a new key for a new result",
            )
        return Posted(added.result, added.created)

    def close(self) -> None:
        """Commit the posts still queued and stop the writer."""
        self._writer.close()

    def get(self, result_id: int) -> StoredResult:
        found = self._store.get(result_id)
        if found is None:
            raise ApiError(404, f"no result with id {result_id}; GET /result lists stored ids")
        return found

    def delete(self, result_id: int) -> None:
        """Delete one result; its idempotency key is free again (docs/results-api.md)."""
        if not self._store.delete(result_id):
            raise ApiError(404, f"no result with id {result_id}; GET /result lists stored ids")

    def page(self, after_id: int, limit: int, only: Filter, max_bytes: int) -> list[StoredResult]:
        return self._store.page(after_id, limit, only, max_bytes)

    def count(self) -> int:
        return self._store.count()

    def state(self) -> StoreState:
        return self._store.state()
