"""The rows of the results table as the API handles them (tuples: several are made per post)."""

from __future__ import annotations

from typing import NamedTuple

# The columns of a ``StoredResult``, in its fields' order.
COLUMNS = "id, received_at, idempotency_key, body"


class StoredResult(NamedTuple):
    """One stored row; ``body`` is the posted object as JSON text (ASCII)."""

    id: int
    received_at: str
    idempotency_key: str | None
    body: str


class NewResult(NamedTuple):
    """A result about to be stored; ``body_digest`` identifies its JSON value."""

    received_at: str
    idempotency_key: str | None
    body_digest: str
    metric: str | None
    body: str


class Added(NamedTuple):
    """What ``add`` did: stored ``result`` now (``created``) or found it under its key."""

    result: StoredResult
    body_digest: str
    created: bool
