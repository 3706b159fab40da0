"""Ledger rows as people and programs read them: text tables and JSON."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from localbridge.ledger.store import Ledger
from localbridge.runtime.dispatch import display_instant
from localbridge.ticks import Tick


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def tick_json(ledger: Ledger, tick: Tick) -> dict[str, Any]:
    def instant(value: datetime | None) -> str | None:
        return None if value is None else display_instant(value)

    return {
        "id": tick.id,
        "function": tick.function,
        "scheduled_at": instant(tick.scheduled_at),
        "state": tick.state.value,
        "source": tick.source.value,
        "next_attempt_at": instant(tick.next_attempt_at),
        "attempts": [
            {
                "number": a.number,
                "started_at": instant(a.started_at),
                "ended_at": instant(a.ended_at),
                "lateness_ms": a.lateness_ms,
                "duration_ms": a.duration_ms,
                "outcome": None if a.outcome is None else a.outcome.value,
                "error_type": a.error_type,
                "error_message": a.error_message,
                "traceback": a.traceback,
                "payload": a.payload,
                "payload_truncated": a.payload_truncated,
            }
            for a in ledger.attempts(tick.id)
        ],
    }
