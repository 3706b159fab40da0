"""The console's request handling, independent of the HTTP server (``server``).

``Console.handle`` maps a request to a ``Response``: the pages, their JSON
twins (``/runs.json``), ``/metrics`` and the actions. The routes are a
contract: ``/``, ``/runs``, ``/runs/<id>``, ``/dlq``, ``/results``, ``/metrics``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from localbridge.console import pages, results, views
from localbridge.console.actions import ActionError, Actions, Done
from localbridge.console.guard import ForbiddenError, check_action
from localbridge.console.layout import error_page
from localbridge.console.sources import Source
from localbridge.instants import display_instant, parse_user_instant
from localbridge.ledger.browse import LedgerReader, RunFilter
from localbridge.ledger.pauses import PauseStore
from localbridge.ticks import TickSource, TickState

HTML = "text/html; charset=utf-8"
JSON = "application/json"
RUN_PATH = re.compile(r"/runs/(?P<id>\d{1,18})")
KEY_PATH = re.compile(r"/runs/key/(?P<function>[^/]+)/(?P<time>.+)")


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = HTML
    headers: Mapping[str, str] = field(default_factory=dict)


def _instant(text: str) -> datetime:
    """An ISO-8601 instant from a form or a path; without a zone it is UTC."""
    return parse_user_instant(text.strip())


class BadRequestError(Exception):
    pass


def run_filter(query: Mapping[str, list[str]]) -> RunFilter:
    """``/runs``'s query string; a bad value is a 400 naming the parameter."""

    def one(name: str) -> str | None:
        value = query.get(name, [""])[0].strip()
        return value or None

    texts = {name: one(name) for name in ("state", "source", "since", "until")}
    try:
        state = None if texts["state"] is None else TickState(texts["state"])
        source = None if texts["source"] is None else TickSource(texts["source"])
        since = None if texts["since"] is None else _instant(texts["since"])
        until = None if texts["until"] is None else _instant(texts["until"])
        before = one("before_id")
        limit = int(one("limit") or 100)
    except ValueError as error:
        raise BadRequestError(
            f"bad filter: {error}; states are {', '.join(TickState)}, sources "
            f"{', '.join(TickSource)}, times ISO-8601 such as 2022-12-19T00:00Z"
        ) from None
    if before is not None and not before.isdigit():
        raise BadRequestError(f"before_id must be a run id, got {before!r}")
    if not 1 <= limit <= 1000:
        raise BadRequestError(f"limit must be from 1 to 1000, got {limit}")
    return RunFilter(one("function"), state, source, since, until,
                     None if before is None else int(before), limit)  # fmt: skip


class Console:
    """Everything the console answers, over a ledger and a ``Source``."""

    def __init__(
        self,
        reader: LedgerReader,
        pauses: PauseStore,
        source: Source,
        registry: CollectorRegistry,
        token: str,
        results_api_url: Callable[[], str | None],
        results_api_token: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.reader = reader
        self.source = source
        self.registry = registry
        self.token = token
        self.actions = Actions(reader, pauses, source)
        self._results_api_url = results_api_url
        self._results_api_token = results_api_token
        self.local_changes = 0
        """Bumped by actions this connection commits (``data_version`` misses those)."""

    def clock_text(self) -> str:
        return display_instant(self.source.clock.now())

    def changes(self) -> tuple[int, int]:
        return self.reader.changes(), self.local_changes

    # -- GET ---------------------------------------------------------------

    def get(self, path: str, query: Mapping[str, list[str]]) -> Response:
        as_json = path.endswith(".json")
        base = path.removesuffix(".json") or "/"
        if base == "/index":
            base = "/"
        if base == "/metrics":
            return Response(200, generate_latest(self.registry), CONTENT_TYPE_LATEST)
        try:
            return self._page(base, query, as_json)
        except BadRequestError as error:
            return self.error(400, str(error), as_json)

    def _page(self, base: str, query: Mapping[str, list[str]], as_json: bool) -> Response:
        token = self.token
        if base == "/":
            view = views.functions_view(self.reader, self.source)
            return self._render(view, as_json, lambda v: pages.functions_page(v, token))
        if base == "/runs":
            view = views.runs_view(self.reader, run_filter(query), self.source)
            return self._render(view, as_json, pages.runs_page)
        if base == "/dlq":
            view = views.dlq_view(self.reader, self.source)
            return self._render(view, as_json, lambda v: pages.dlq_page(v, token))
        if base == "/results":
            view = views.results_view(self._results_api_url())
            return self._render(view, as_json, lambda v: pages.results_page(v, token))
        if match := RUN_PATH.fullmatch(base):
            tick = self.reader.tick(int(match["id"]))
            if tick is None:
                return self.error(404, f"no run #{match['id']}; see /runs", as_json)
            view = views.run_view(self.reader, tick, self.source)
            return self._render(view, as_json, lambda v: pages.run_page(v, token))
        if match := KEY_PATH.fullmatch(base):
            return self._run_by_key(unquote(match["function"]), unquote(match["time"]))
        return self.error(404, f"no page {base}; the pages are /, /runs, /dlq, /results", as_json)

    def _run_by_key(self, function: str, time: str) -> Response:
        try:
            instant = _instant(time)
        except ValueError:
            return self.error(400, f"{time!r} is not a scheduled time", False)
        tick = self.reader.tick_at(function, instant)
        if tick is None:
            return self.error(404, f"no run of {function} scheduled at {time} in this ledger")
        return Response(303, b"", headers={"Location": f"/runs/{tick.id}"})

    def _render(
        self, view: views.View, as_json: bool, render: Callable[[views.View], str]
    ) -> Response:
        view.setdefault("clock", self.clock_text())
        if as_json:
            return Response(200, pages.json_text(view).encode(), JSON)
        return Response(200, render(view).encode())

    def error(self, status: int, message: str, as_json: bool = False) -> Response:
        if as_json:
            body = pages.json_text({"error": message}).encode()
            return Response(status, body, JSON)
        return Response(status, error_page(status, message, self.clock_text()).encode())

    # -- POST --------------------------------------------------------------

    def post(
        self, path: str, headers: Mapping[str, str], form: Mapping[str, list[str]]
    ) -> Response:
        wants_json = "application/json" in headers.get("Accept", "")
        try:
            check_action(headers, form.get("token", [None])[0], self.token)
            done = self._act(path, form)
        except ForbiddenError as error:
            return self.error(403, str(error), wants_json)
        except ActionError as error:
            return self.error(error.status, error.message, wants_json)
        self.local_changes += 1
        if wants_json:
            answer = {"done": done.message, "location": done.location}
            return Response(200, pages.json_text(answer).encode(), JSON)
        back = form.get("next", [done.location])[0]
        # Only a path on this console: never an open redirect.
        location = back if back.startswith("/") and not back.startswith("//") else done.location
        return Response(303, b"", headers={"Location": location})

    def _act(self, path: str, form: Mapping[str, list[str]]) -> Done:
        every = form.get("all", ["0"])[0] == "1"
        names = [n for n in form.get("function", []) if n]
        ids = form.get("id", [])
        if not all(i.isdigit() for i in ids):
            raise ActionError(400, f"id must be a run id, got {ids}")
        tick_ids = [int(i) for i in ids]
        if path == "/actions/pause":
            return self.actions.pause(names, every)
        if path == "/actions/resume":
            return self.actions.resume(names, every)
        if path == "/actions/invoke":
            if len(names) != 1:
                raise ActionError(400, "invoke one function: send one 'function' field")
            return self.actions.invoke(names[0])
        if path == "/actions/redrive":
            return self.actions.redrive(tick_ids, every)
        if path == "/actions/purge":
            return self.actions.purge(tick_ids, every)
        if path == "/actions/delete-result":
            return self._delete_result(tick_ids)
        raise ActionError(
            404,
            f"no action {path}; actions are pause, resume, invoke, redrive, purge, delete-result",
        )

    def _delete_result(self, ids: list[int]) -> Done:
        """Delete one record from the results API (``id`` is its id there, not a run's)."""
        if len(ids) != 1:
            raise ActionError(400, "delete one result: send one 'id' field")
        url = self._results_api_url()
        if url is None:
            raise ActionError(409, "no results API: the stage sets no RESULTS_API_URL")
        problem = results.delete_record(url, ids[0], self._results_api_token())
        if problem is not None:
            raise ActionError(*problem)
        return Done(f"deleted result {ids[0]}", "/results")
