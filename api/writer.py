"""Group commit: posts that arrive together are stored in one transaction.

Each post waits on a future; the first post of a turn of the event loop
schedules one flush for the next turn, so every post queued meanwhile (other
connections' requests parsed in the same turn) shares its commit. Nothing waits
on a timer: an idle server commits a lone post one loop turn after it arrives,
and each post is acknowledged only after the commit that holds it.
"""

from __future__ import annotations

import asyncio

from api.storage import Added, NewResult, ResultStore


class BatchWriter:
    """The single writer in front of ``ResultStore.add_many``; used from one event loop."""

    def __init__(self, store: ResultStore):
        self._store = store
        self._pending: list[tuple[NewResult, asyncio.Future[Added]]] = []

    async def add(self, new: NewResult) -> Added:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Added] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((new, future))
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            stored = self._store.add_many([new for new, _ in batch])
        except Exception as error:  # every waiting post fails with the store's error
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), added in zip(batch, stored, strict=True):
            # A post whose client went away is stored all the same.
            if not future.done():
                future.set_result(added)
