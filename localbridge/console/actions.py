"""What the console's buttons do: invoke (at a chosen time or with a payload), replay
a window, pause, resume, redrive, purge.

Each action validates its input against what exists (a function name, a dead
tick) and fails with an ``ActionError`` carrying the HTTP status and a message
a person can act on. Pause and resume go to the ledger, so they hold across
restarts and reach a ``run`` in another process; the runtime in this process
is told at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from localbridge.console.sources import Source
from localbridge.ledger.browse import LedgerReader, RunFilter
from localbridge.ledger.pauses import PauseStore
from localbridge.ticks import TickState


class ActionError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Done:
    """What an action did, in a sentence, and where to look next."""

    message: str
    location: str


class Actions:
    def __init__(self, reader: LedgerReader, pauses: PauseStore, source: Source) -> None:
        self._reader = reader
        self._pauses = pauses
        self._source = source

    def _names(self, names: Sequence[str], every: bool) -> list[str]:
        known = [f.name for f in self._source.functions()]
        if every:
            return known
        if not names:
            raise ActionError(400, "name a function (field 'function') or send all=1")
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise ActionError(
                404, f"no scheduled function {unknown[0]!r} (known: {', '.join(known) or 'none'})"
            )
        return list(names)

    def _require_runtime(self, what: str) -> None:
        if not self._source.can_run:
            raise ActionError(
                409,
                f"{what} needs the runtime: this is `localbridge console`; use `localbridge run`",
            )

    def pause(self, names: Sequence[str], every: bool = False) -> Done:
        chosen = self._names(names, every)
        changed = self._pauses.pause(chosen, self._source.clock.now())
        self._source.paused_changed()
        return Done(f"paused {', '.join(changed) or 'nothing new'}", "/")

    def resume(self, names: Sequence[str], every: bool = False) -> Done:
        chosen = self._names(names, every)
        changed = self._pauses.resume(chosen)
        self._source.paused_changed()
        return Done(f"resumed {', '.join(changed) or 'nothing new'}", "/")

    def invoke(self, name: str, at: datetime | None = None, payload: str | None = None) -> Done:
        """Run ``name`` now with its scheduled event of ``at`` (default: this second)
        or with ``payload``, a JSON object given as the whole event."""
        self._require_runtime("invoking a function")
        (chosen,) = self._names([name], False)
        event: dict[str, Any] | None = None
        if payload is not None:
            event = _event_of(payload)
        elif at is not None:
            event = self._source.scheduled_event(chosen, at)
        tick_id = self._source.invoke(chosen, event)
        return Done(f"invoked {chosen}", f"/runs/{tick_id}")

    def replay(self, name: str, since: datetime, until: datetime) -> Done:
        self._require_runtime("replaying")
        (chosen,) = self._names([name], False)
        if until <= since:
            raise ActionError(400, "replay's 'until' must be after its 'since'")
        added = self._source.replay(chosen, since, until)
        return Done(f"replaying {len(added)} run(s) of {chosen}", f"/functions/{chosen}")

    def _dead(self, tick_ids: Sequence[int], every: bool) -> list[int]:
        if every:
            dead = self._reader.runs(RunFilter(state=TickState.DEAD, limit=100_000))
            return [run.tick.id for run in dead]
        if not tick_ids:
            raise ActionError(400, "name a dead letter (field 'id') or send all=1")
        for tick_id in tick_ids:
            tick = self._reader.tick(tick_id)
            if tick is None or tick.state is not TickState.DEAD:
                raise ActionError(404, f"no dead letter with id {tick_id}; see /dlq")
        return list(tick_ids)

    def redrive(self, tick_ids: Sequence[int], every: bool = False) -> Done:
        self._require_runtime("redriving")
        chosen = self._dead(tick_ids, every)
        reopened = self._source.redrive(chosen)
        location = f"/runs/{reopened[0]}" if len(reopened) == 1 else "/dlq"
        return Done(f"redrove {len(reopened)} dead letter(s)", location)

    def purge(self, tick_ids: Sequence[int], every: bool = False) -> Done:
        chosen = self._dead(tick_ids, every)
        purged = self._reader.purge(chosen, self._source.clock.now())
        return Done(f"purged {len(purged)} dead letter(s)", "/dlq")


def _event_of(payload: str) -> dict[str, Any]:
    try:
        event = json.loads(payload, parse_constant=_no_constant)
    except ValueError as error:
        raise ActionError(400, f"the payload is not valid JSON ({error})") from None
    if not isinstance(event, dict):
        raise ActionError(400, 'the payload must be a JSON object, such as {"time": ...}')
    return event


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
