"""What the API does with results, independent of HTTP framing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from api.errors import ApiError
from api.storage import NewResult, ResultStore, StoredResult, StoreState
from api.writer import BatchWriter

Clock = Callable[[], datetime]
MAX_KEY_LENGTH = 255


def system_clock() -> datetime:
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """UTC with microseconds and a ``Z``: sorts as text in time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode(value: Any) -> str:
    """Compact JSON in ASCII, so any parsed string (even a lone surrogate) stores safely."""
    return json.dumps(value, separators=(",", ":"))


def digest(value: Any) -> str:
    """Identifies a JSON value regardless of key order and whitespace."""
    canonical = json.dumps(value, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_idempotency_key(key: str) -> str:
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ApiError(
            400,
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters,"
            f" got {key[:40]!r}; a key such as 'registrations_per_day/2022-12-21T00:05:00Z'",
        )
    return key


@dataclass(frozen=True)
class Posted:
    result: StoredResult
    created: bool


class ResultService:
    """Stores posted results once per idempotency key and reads them back."""

    def __init__(self, store: ResultStore, clock: Clock = system_clock):
        self._store = store
        self._writer = BatchWriter(store)
        self._clock = clock

    async def post(self, result: dict[str, Any], idempotency_key: str | None) -> Posted:
        try:
            body, body_digest = encode(result), digest(result)
        except RecursionError:
            raise ApiError(400, "body nests arrays/objects too deeply") from None
        metric = result.get("metric")
        new = NewResult(
            received_at=rfc3339(self._clock()),
            idempotency_key=idempotency_key,
            body_digest=body_digest,
            metric=metric if isinstance(metric, str) else None,
            body=body,
        )
        added = await self._writer.add(new)
        if not added.created and added.body_digest != body_digest:
            raise ApiError(
                409,
                f"Idempotency-Key {idempotency_key!r} was already used for a different result"
                f" (id {added.result.id}); use a new key for a new result",
            )
        return Posted(added.result, added.created)

    def get(self, result_id: int) -> StoredResult:
        found = self._store.get(result_id)
        if found is None:
            raise ApiError(404, f"no result with id {result_id}; GET /result lists stored ids")
        return found

    def page(self, after_id: int, limit: int, metric: str | None) -> list[StoredResult]:
        return self._store.page(after_id, limit, metric)

    def state(self) -> StoreState:
        return self._store.state()


def record_json(result: StoredResult) -> str:
    """The public record, built around the stored JSON text instead of re-encoding it."""
    key = "null" if result.idempotency_key is None else encode(result.idempotency_key)
    return (
        f'{{"id":{result.id},"received_at":"{result.received_at}",'
        f'"idempotency_key":{key},"result":{result.body}}}'
    )


def records_json(results: list[StoredResult]) -> str:
    return "[" + ",".join(record_json(result) for result in results) + "]"
