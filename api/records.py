"""The rows of the results table as the API handles them."""

from __future__ import annotations

from dataclasses import dataclass

COLUMNS = "id, received_at, idempotency_key, body"
"""The columns of a ``StoredResult``, in its fields' order."""


@dataclass(frozen=True)
class StoredResult:
    """One stored row; ``body`` is the posted object as JSON text (ASCII)."""

    id: int
    received_at: str
    idempotency_key: str | None
    body: str


@dataclass(frozen=True)
class NewResult:
    """A result about to be stored; ``body_digest`` identifies its JSON value."""

    received_at: str
    idempotency_key: str | None
    body_digest: str
    metric: str | None
    body: str


@dataclass(frozen=True)
class Added:
    """What ``add`` did: stored ``result`` now (``created``) or found it under its key."""

    result: StoredResult
    body_digest: str
    created: bool
