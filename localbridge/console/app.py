"""The console's request handling, independent of the HTTP server (``server``).

``Console.get`` and ``Console.post`` map a request to a ``Response``: the
pages, their JSON twins (``/runs.json``), ``/metrics``, the static files and
the actions. A page is one view (``views``, plain data) answered as its
template (``render``) or as JSON: the same data either way. The routes are a
contract: ``/``, ``/functions/<name>``, ``/runs``, ``/runs/<id>``, ``/dlq``,
``/results``, ``/stats`` (the metrics for people), ``/metrics`` (for Prometheus).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from localbridge.console import render, results, views
from localbridge.console.actions import ActionError, Actions, Done
from localbridge.console.guard import ForbiddenError, check_action
from localbridge.console.sources import Source
from localbridge.instants import display_instant, parse_user_instant
from localbridge.ledger.browse import LedgerReader, RunFilter
from localbridge.ledger.pauses import PauseStore
from localbridge.ticks import TickSource, TickState

HTML = "text/html; charset=utf-8"
JSON = "application/json"
RUN_PATH = re.compile(r"/runs/(?P<id>\d{1,18})")
KEY_PATH = re.compile(r"/runs/key/(?P<function>[^/]+)/(?P<time>.+)")
FUNCTION_PATH = re.compile(r"/functions/(?P<name>[^/]+)")
STATIC_PATH = re.compile(r"/static/(?P<name>[a-z0-9_.-]+)")
MAX_ID = 2**63 - 1
"""SQLite's largest integer: an id beyond it names no run (and would not bind)."""
TITLES = {"/": "Functions", "/runs": "Runs", "/dlq": "Dead letters", "/results": "Results",
          "/stats": "Metrics"}  # fmt: skip


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


def _one(query: Mapping[str, list[str]], name: str) -> str | None:
    value = query.get(name, [""])[0].strip()
    return value or None


def run_id(query: Mapping[str, list[str]], name: str) -> int | None:
    """A run (or record) id from the query string: digits, at most SQLite's largest."""
    text = _one(query, name)
    if text is None:
        return None
    if not text.isdigit() or len(text) > 19 or int(text) > MAX_ID:
        raise BadRequestError(f"{name} must be a run id (a whole number below 2^63), got {text!r}")
    return int(text)


def run_filter(
    query: Mapping[str, list[str]], function: str | None = None, limit: int = 100
) -> RunFilter:
    """``/runs``'s query string; a bad value is a 400 naming the parameter."""

    def one(name: str) -> str | None:
        return _one(query, name)

    texts = {name: one(name) for name in ("state", "source", "since", "until")}
    try:
        state = None if texts["state"] is None else TickState(texts["state"])
        source = None if texts["source"] is None else TickSource(texts["source"])
        since = None if texts["since"] is None else _instant(texts["since"])
        until = None if texts["until"] is None else _instant(texts["until"])
        limit_text = one("limit") or str(limit)
        if not limit_text.isdigit() or len(limit_text) > 4:
            raise BadRequestError(f"limit must be from 1 to 1000, got {limit_text!r}")
        limit = int(limit_text)
    except ValueError as error:
        raise BadRequestError(
            f"bad filter: {error}; states are {', '.join(TickState)}, sources "
            f"{', '.join(TickSource)}, times ISO-8601 such as 2022-12-19T00:00Z"
        ) from None
    if not 1 <= limit <= 1000:
        raise BadRequestError(f"limit must be from 1 to 1000, got {limit}")
    return RunFilter(function or one("function"), state, source, since, until,
                     run_id(query, "before_id"), run_id(query, "after_id"), limit)  # fmt: skip


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
        self._templates = render.environment()
        self._static = render.static_files()

    def clock_text(self) -> str:
        return display_instant(self.source.clock.now())

    def changes(self) -> tuple[int, int]:
        return self.reader.changes(), self.local_changes

    # -- GET ---------------------------------------------------------------

    def get(self, path: str, query: Mapping[str, list[str]]) -> Response:
        if match := STATIC_PATH.fullmatch(path):
            return self._static_file(match["name"])
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

    def _static_file(self, name: str) -> Response:
        found = self._static.get(name)
        if found is None:
            return self.error(404, f"no static file {name}")
        return Response(200, found[0], found[1])

    def _page(self, base: str, query: Mapping[str, list[str]], as_json: bool) -> Response:
        if base == "/":
            return self._render(
                "functions", views.functions_view(self.reader, self.source), base, as_json
            )
        if base == "/runs":
            view = views.runs_view(self.reader, run_filter(query), self.source)
            return self._render("runs", view, base, as_json)
        if base == "/dlq":
            view = views.dlq_view(self.reader, self.source, run_filter(query))
            return self._render("dlq", view, base, as_json)
        if base == "/results":
            view = views.results_view(
                self._results_api_url(),
                _one(query, "metric"),
                run_id(query, "before_id"),
                run_id(query, "after_id"),
            )
            return self._render("results", view, base, as_json)
        if base == "/stats":
            return self._render("stats", views.stats_view(self.registry), base, as_json)
        if match := FUNCTION_PATH.fullmatch(base):
            return self._function(unquote(match["name"]), query, as_json)
        if match := RUN_PATH.fullmatch(base):
            return self._run(int(match["id"]), as_json)
        if match := KEY_PATH.fullmatch(base):
            return self._run_by_key(unquote(match["function"]), unquote(match["time"]))
        return self.error(
            404, f"no page {base}; the pages are /, /functions/<name>, /runs, /dlq, /results, "
            "/stats", as_json,
        )  # fmt: skip

    def _function(self, name: str, query: Mapping[str, list[str]], as_json: bool) -> Response:
        chosen = run_filter(query, function=name, limit=views.FUNCTION_RUNS)
        view = views.function_view(self.reader, self.source, name, chosen)
        if view is None:
            return self.error(404, f"no function {name}; see / for the functions", as_json)
        return self._render("function", view, "/", as_json, title=f"Function {name}")

    def _run(self, tick_id: int, as_json: bool) -> Response:
        tick = self.reader.tick(tick_id)
        if tick is None:
            return self.error(404, f"no run #{tick_id}; see /runs", as_json)
        view = views.run_view(self.reader, tick, self.source)
        run = view["run"]
        title = f"Run #{run['id']}: {run['function']} {run['scheduled_at']}"
        return self._render("run", view, "/runs", as_json, title=title)

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
        self, template: str, view: views.View, section: str, as_json: bool, title: str = ""
    ) -> Response:
        """The one step that answers a page: its view as JSON, or through its template."""
        view.setdefault("clock", self.clock_text())
        if as_json:
            return Response(200, json_text(view).encode(), JSON)
        return Response(200, self._html(template, title or TITLES[section], section, view=view))

    def _html(self, template: str, title: str, section: str, **values: Any) -> bytes:
        clock = views.clock_view(self.source)
        page = self._templates.get_template(f"{template}.html")
        return page.render(
            title=title, section=section, clock=clock, now=clock["now"], token=self.token,
            states=[s.value for s in TickState], sources=[s.value for s in TickSource],
            **values,
        ).encode()  # fmt: skip

    def error(self, status: int, message: str, as_json: bool = False) -> Response:
        if as_json:
            return Response(status, json_text({"error": message}).encode(), JSON)
        body = self._html("error", f"{status}: cannot do that", "", message=message)
        return Response(status, body)

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
            return Response(200, json_text(answer).encode(), JSON)
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
            return self.actions.invoke(names[0], _form_instant(form, "at"), _field(form, "payload"))
        if path == "/actions/replay":
            if len(names) != 1:
                raise ActionError(400, "replay one function: send one 'function' field")
            since, until = _form_instant(form, "since"), _form_instant(form, "until")
            if since is None or until is None:
                raise ActionError(
                    400, "replay needs 'since' and 'until', such as 2022-12-01T00:00Z"
                )
            return self.actions.replay(names[0], since, until)
        if path == "/actions/redrive":
            return self.actions.redrive(tick_ids, every)
        if path == "/actions/purge":
            return self.actions.purge(tick_ids, every)
        if path == "/actions/delete-result":
            return self._delete_result(tick_ids)
        raise ActionError(
            404,
            f"no action {path}; actions are pause, resume, invoke, replay, redrive, purge, "
            "delete-result",
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


def _field(form: Mapping[str, list[str]], name: str) -> str | None:
    value = form.get(name, [""])[0].strip()
    return value or None


def _form_instant(form: Mapping[str, list[str]], name: str) -> datetime | None:
    text = _field(form, name)
    if text is None:
        return None
    try:
        return _instant(text)
    except ValueError:
        raise ActionError(
            400, f"{name} must be an ISO-8601 time such as 2022-12-19T01:00Z, got {text!r}"
        ) from None


def json_text(view: Any) -> str:
    """A page's JSON twin. Never raises: what JSON cannot hold (NaN, an integer
    longer than Python writes) is written as text."""
    try:
        return json.dumps(view, indent=2, allow_nan=False)
    except ValueError:
        return json.dumps(_safe(view), indent=2, allow_nan=False)


def _safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            json.dumps(value)
        except ValueError:
            return "an integer too long to write"
    return value
