"""Ledger rows as people and programs read them: text tables and JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from localbridge.instants import display_optional
from localbridge.ledger.store import Ledger
from localbridge.terminal import escape
from localbridge.ticks import Tick


def table(rows: Sequence[Sequence[str]]) -> str:
    """Aligned columns; control characters in a cell (a job's error, say) shown escaped."""
    rows = [[escape(cell, keep_newlines=False) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def tick_json(ledger: Ledger, tick: Tick) -> dict[str, Any]:
    return {
        "id": tick.id,
        "function": tick.function,
        "scheduled_at": display_optional(tick.scheduled_at),
        "state": tick.state.value,
        "source": tick.source.value,
        "next_attempt_at": display_optional(tick.next_attempt_at),
        "request_id": tick.request_id,
        "event_id": tick.event_id,
        "attempts": [
            {
                "number": a.number,
                "started_at": display_optional(a.started_at),
                "ended_at": display_optional(a.ended_at),
                "lateness_ms": a.lateness_ms,
                "duration_ms": a.duration_ms,
                "outcome": None if a.outcome is None else a.outcome.value,
                "error_type": a.error_type,
                "error_message": a.error_message,
                "traceback": a.traceback,
                "payload": a.payload,
                "payload_truncated": a.payload_truncated,
                "logs": a.logs,
            }
            for a in ledger.attempts(tick.id)
        ],
    }
