"""The console's pages as HTML, rendered from the views (``views``) on the server.

Every value from the ledger or the results API is escaped here; actions are
forms that POST with the console's token (``layout.action``).
"""

from __future__ import annotations

import json
from html import escape
from typing import Any
from urllib.parse import urlencode

from localbridge.console.charts import ChartPoint, bar_chart, line_chart, number
from localbridge.console.layout import action, page, state, table
from localbridge.console.views import View
from localbridge.ticks import TickSource, TickState


def _run_link(tick_id: int, text: str | None = None) -> str:
    return f'<a href="/runs/{tick_id}">{escape(text or f"#{tick_id}")}</a>'


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f} ms"


def _last_run(last: View | None) -> str:
    if last is None:
        return '<span class="note">never</span>'
    return f"{_run_link(last['id'], last['scheduled_at'])} {state(last['state'])}"


def _function_buttons(row: View, token: str, can_run: bool) -> str:
    name = row["name"]
    buttons = action("/actions/invoke", "Invoke now", token, "/", function=name) if can_run else ""
    if row["paused"]:
        return buttons + action("/actions/resume", "Resume", token, "/", function=name)
    return buttons + action("/actions/pause", "Pause", token, "/", function=name)


def functions_page(view: View, token: str) -> str:
    rows = []
    for row in view["functions"]:
        status = '<span class="paused">paused</span>' if row["paused"] else "active"
        dead = f' <a href="/dlq">{row["dead_letters"]} dead</a>' if row["dead_letters"] else ""
        rows.append(
            [
                f'<a href="/runs?function={escape(row["name"])}"><strong>'
                f"{escape(row['name'])}</strong></a>",
                f"<code>{escape(row['expression'])}</code>",
                escape(row["description"]),
                "<br>".join(f'<span class="mono">{escape(t)}</span>' for t in row["next_fires"])
                or "never",
                _last_run(row["last_run"]) + dead,
                status,
                _function_buttons(row, token, view["can_run"]),
            ]
        )
    header = ["function", "schedule", "description", "next fire times", "last run", "status", ""]
    everything = action("/actions/pause", "Pause all", token, "/", all=1) + action(
        "/actions/resume", "Resume all", token, "/", all=1
    )
    note = "" if view["can_run"] else (
        '<p class="note">Browsing the ledger (<code>localbridge console</code>): '
        "invoking and redriving need <code>localbridge run</code>.</p>"
    )  # fmt: skip
    live = table(header, rows, "no scheduled functions") + f"<p>{everything}</p>"
    return page("Functions", "/", view["clock"], note, live)


def _select(name: str, options: list[str], chosen: str | None) -> str:
    items = "".join(
        f'<option value="{escape(o)}"{" selected" if o == chosen else ""}>{escape(o)}</option>'
        for o in options
    )
    return (
        f'<label>{name} <select name="{name}"><option value="">any</option>{items}</select></label>'
    )


def _filter_form(chosen: View, functions: list[str]) -> str:
    def text(name: str) -> str:
        value = escape(chosen[name] or "")
        return (
            f'<label>{name} <input name="{name}" value="{value}" size="20" '
            f'placeholder="2022-12-19T00:00Z"></label>'
        )

    return (
        '<form method="get" action="/runs" class="filters">'
        + _select("function", functions, chosen["function"])
        + _select("state", [s.value for s in TickState], chosen["state"])
        + _select("source", [s.value for s in TickSource], chosen["source"])
        + text("since")
        + text("until")
        + '<button>Filter</button> <a href="/runs">clear</a></form>'
    )


def runs_table(runs: list[View]) -> str:
    rows = [
        [
            _run_link(r["id"]),
            escape(r["function"]),
            f'<span class="mono">{escape(r["scheduled_at"])}</span>',
            state(r["state"]),
            escape(r["source"]),
            str(r["attempts"]),
            state(r["last_outcome"]),
            _ms(r["duration_ms"]),
            escape(r["error"] or ""),
        ]
        for r in runs
    ]
    header = ["run", "function", "scheduled", "state", "source", "attempts", "last outcome",
              "duration", "error"]  # fmt: skip
    return table(header, rows, "no runs match")


def runs_page(view: View) -> str:
    live = runs_table(view["runs"])
    if view["older_before_id"] is not None:
        query = {k: v for k, v in view["filter"].items() if v is not None and k != "before_id"}
        query["before_id"] = view["older_before_id"]
        live += f'<p><a href="/runs?{escape(urlencode(query))}">older runs</a></p>'
    body = _filter_form(view["filter"], view["functions"])
    return page("Runs", "/runs", view.get("clock"), body, live)


def _pre(label: str, text: str | None, kind: str) -> str:
    if not text:
        return ""
    return f'<h3>{escape(label)}</h3><pre class="{kind}">{escape(text)}</pre>'


def _pretty(payload: str | None) -> str | None:
    if payload is None:
        return None
    try:
        return json.dumps(json.loads(payload), indent=2)
    except json.JSONDecodeError:
        return payload


def _attempt(attempt: View) -> str:
    facts = table(
        ["started", "ended", "lateness", "duration", "outcome", "error"],
        [
            [
                escape(attempt["started_at"] or "-"),
                escape(attempt["ended_at"] or "-"),
                _ms(attempt["lateness_ms"]),
                _ms(attempt["duration_ms"]),
                state(attempt["outcome"]),
                escape(f"{attempt['error_type']}: {attempt['error_message']}")
                if attempt["error_type"] else "",
            ]
        ],
        "",
    )  # fmt: skip
    cut = " (truncated)" if attempt["payload_truncated"] else ""
    return (
        f'<section class="attempt"><h2>Attempt {attempt["number"]}</h2>{facts}'
        + _pre("Output (logs)", attempt["logs"], "logs")
        + _pre("Traceback", attempt["traceback"], "traceback")
        + _pre(f"Payload{cut}", _pretty(attempt["payload"]), "payload")
        + "</section>"
    )


def run_page(view: View, token: str) -> str:
    run = view["run"]
    title = f"Run #{run['id']}: {run['function']} {run['scheduled_at']}"
    facts = table(
        ["function", "scheduled", "state", "source", "enqueued", "next attempt", "idempotency key"],
        [
            [
                f'<a href="/runs?function={escape(run["function"])}">{escape(run["function"])}</a>',
                escape(run["scheduled_at"]),
                state(run["state"]),
                escape(run["source"]),
                escape(view["enqueued_at"]),
                escape(run["next_attempt_at"] or "-"),
                f"<code>{escape(view['idempotency_key'])}</code>",
            ]
        ],
        "",
    )
    if run["state"] == TickState.DEAD.value:
        facts += _dead_buttons(run["id"], token, view["can_run"], f"/runs/{run['id']}")
    attempts = (
        "".join(_attempt(a) for a in view["attempts"]) or '<p class="note">no attempt yet</p>'
    )
    event_text = None if view["event"] is None else json.dumps(view["event"], indent=2)
    event = _pre("Event", event_text, "event")
    return page(title, "/runs", view.get("clock"), "", facts + attempts + event)


def _dead_buttons(tick_id: int, token: str, can_run: bool, back: str) -> str:
    redrive = action("/actions/redrive", "Redrive", token, back, id=tick_id) if can_run else ""
    return redrive + action("/actions/purge", "Purge", token, "/dlq", id=tick_id)


def dlq_page(view: View, token: str) -> str:
    rows = [
        [
            _run_link(r["id"]),
            escape(r["function"]),
            f'<span class="mono">{escape(r["scheduled_at"])}</span>',
            str(r["attempts"]),
            escape(r["error"] or "expired before it could run"),
            _dead_buttons(r["id"], token, view["can_run"], "/dlq"),
        ]
        for r in view["dead_letters"]
    ]
    live = table(["run", "function", "scheduled", "attempts", "last error", ""], rows,
                  "the dead-letter queue is empty")  # fmt: skip
    if rows:
        everything = action("/actions/purge", "Purge all", token, "/dlq", all=1)
        if view["can_run"]:
            everything = (
                action("/actions/redrive", "Redrive all", token, "/dlq", all=1) + everything
            )
        live += f"<p>{everything}</p>"
    return page("Dead letters", "/dlq", view.get("clock"), "", live)


def _metric(metric: View, token: str) -> str:
    points = [
        ChartPoint(
            p["period"],
            p["value"],
            p["run"],
            f"{p['period']}: {'no value' if p['value'] is None else number(p['value'])}",
        )
        for p in metric["chart"]
    ]
    title = f"{metric['metric']}: {metric['value_field']} by {metric['period_field']}"
    chart = (line_chart if metric["kind"] == "line" else bar_chart)(points, title)
    rows = [
        [
            escape(r["period"]),
            "-" if r["value"] is None else escape(number(r["value"])),
            f'<a href="{escape(r["run"])}">{escape(r["idempotency_key"])}</a>'
            if r["run"] else escape(r["idempotency_key"] or "-"),
            escape(r["received_at"]),
            f"<code>{escape(r['result'])}</code>",
            action("/actions/delete-result", "Delete", token, "/results", id=r["id"]),
        ]
        for r in metric["records"]
    ]  # fmt: skip
    header = [metric["period_field"], metric["value_field"], "run", "received", "result", ""]
    return (
        f'<section class="metric" id="metric-{escape(metric["metric"])}">'
        f"<h2>{escape(title)}</h2>{chart}{table(header, rows, 'no records')}</section>"
    )


def results_page(view: View, token: str) -> str:
    source = view["results_api_url"]
    body = f'<p class="note">from the results API at <code>{escape(source or "-")}</code></p>'
    live = f'<p class="problem">{escape(view["error"])}</p>' if view["error"] else ""
    live += "".join(_metric(m, token) for m in view["metrics"])
    if not view["metrics"] and not view["error"]:
        live += '<p class="note">no results yet</p>'
    return page("Results", "/results", view.get("clock"), body, live)


def json_text(view: Any) -> str:
    return json.dumps(view, indent=2)
