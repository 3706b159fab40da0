"""Invocations from outside the schedule: ``Runtime.enqueue_event`` and ``invoke_now``.

A mixin of ``loop.Runtime`` (kept apart so the loop module stays about firing):
each invocation is recorded as a tick (``invocations``), then run by the
runtime's ``Dispatcher``.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from localbridge.abc import Clock
from localbridge.ledger import Ledger
from localbridge.model import InvokeOptions
from localbridge.runtime.dispatch import Dispatcher
from localbridge.runtime.faults import Faults
from localbridge.runtime.functions import Function
from localbridge.runtime.invocations import record_invocation
from localbridge.ticks import RunReport, Tick, TickSource


class Invocations:
    ledger: Ledger
    clock: Clock
    dispatcher: Dispatcher
    faults: Faults

    def _require(self, name: str) -> Function:
        raise NotImplementedError  # the runtime's function table

    def enqueue_event(
        self, name: str, event: Mapping[str, Any] | None = None, request_id: str | None = None
    ) -> Tick:
        """An asynchronous invocation (Lambda's ``Event`` type): recorded, then retried.

        Without ``event`` the function gets its scheduled event for this second
        (``invocations``); ``request_id`` (default: a new one) is every attempt's
        ``aws_request_id``. Returns once the tick is committed.
        """
        self._require(name)
        tick, new = self._record(name, TickSource.EVENT, event, None, request_id)
        if new:  # else this second's event is already on its way
            self.dispatcher.submit(tick, tick.enqueued_at)
        return tick

    def invoke_now(
        self,
        name: str,
        event: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        request_id: str | None = None,
        options: InvokeOptions | None = None,
    ) -> RunReport:
        """A synchronous invocation (RequestResponse): runs now, no retries.

        Without ``event`` the function gets its scheduled event for ``at``
        (default: this second, ``invocations``). Invoking an instant that
        already has a tick adds an attempt to that tick rather than a second tick;
        that attempt is still its own invocation, with its own ``aws_request_id``
        (``request_id``, or a new one) and event id, as every Invoke call is in Lambda.
        """
        function = self._require(name)
        tick, new = self._record(name, TickSource.INVOKE, event, at, request_id)
        if not new:
            tick = replace(tick, request_id=request_id or str(uuid.uuid4()), event_id=None)
        try:
            return self.dispatcher.run_now(function, tick, options)
        except sqlite3.Error as error:
            raise self.faults.refuse(error) from None

    def _record(
        self,
        name: str,
        source: TickSource,
        event: Mapping[str, Any] | None,
        at: datetime | None,
        request_id: str | None,
    ) -> tuple[Tick, bool]:
        """``record_invocation``; a ledger that refuses it is the runtime's fault (``serve``
        stops on it as ``run`` does), and the caller gets its one line."""
        try:
            return record_invocation(self.ledger, self.clock, name, source, event, at, request_id)
        except sqlite3.Error as error:
            raise self.faults.refuse(error) from None
