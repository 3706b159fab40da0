"""Pages from Jinja2 templates (``templates/``), autoescaped, over the views' data.

As datasette does it: one ``Environment`` with autoescape on, a base layout and
one template per page, the charts as macros; every value a job or the ledger
produced is escaped by the template engine, never by hand. The style and the
script are files in ``static/`` served by the console (nothing from a network).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined

from localbridge.console.charts import Chart, ChartPoint, bar_chart, line_chart
from localbridge.console.numbers import shown
from localbridge.instants import parse_instant

NAV = (
    ("/", "Functions"),
    ("/runs", "Runs"),
    ("/dlq", "Dead letters"),
    ("/results", "Results"),
    ("/stats", "Metrics"),
)
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("localbridge.console", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(shown=shown, ms=ms, pretty=pretty_json, query=query, ago=ago)
    env.globals.update(nav=NAV, chart=chart)
    return env


def static_files() -> dict[str, tuple[bytes, str]]:
    """``/static/<name>``: each file's bytes and content type, read once."""
    folder = resources.files("localbridge.console") / "static"
    found = {}
    for entry in folder.iterdir():
        kind = next((t for end, t in STATIC_TYPES.items() if entry.name.endswith(end)), None)
        if kind is not None:
            found[entry.name] = (entry.read_bytes(), kind)
    return found


def ms(value: float | None) -> str:
    """Wall-clock milliseconds (durations, lateness)."""
    return "-" if value is None else f"{value:,.1f} ms"


def pretty_json(value: Any) -> str:
    """A payload or an event, indented when it is JSON, else as it is."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
        try:
            value = json.loads(text)
        except ValueError:
            return text
    try:
        return json.dumps(value, indent=2, default=str)
    except ValueError:
        return repr(value)


def query(fields: dict[str, Any], **changes: Any) -> str:
    """A query string from the fields that are set, with ``changes`` applied."""
    merged = {**fields, **changes}
    return urlencode({k: v for k, v in merged.items() if v is not None and v != ""})


def ago(text: str | None, now: str | None) -> str:
    """``3 min ago`` or ``in 2 h``: ``text`` relative to the clock's ``now``."""
    if not text or not now:
        return "-"
    try:
        seconds = (parse_instant(text) - parse_instant(now)).total_seconds()
    except ValueError:
        return text
    return _span(seconds)


def _span(seconds: float) -> str:
    size = abs(seconds)
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if size >= length:
            amount = f"{size / length:.0f} {unit}"
            break
    else:
        if size < 1:
            return "now"
        amount = f"{size:.0f} s"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def chart(rows: list[dict[str, Any]], kind: str, title: str, label: str, value: str) -> Chart:
    """A chart of ``rows``: ``label`` names each point, ``value`` its height; a row's
    ``run`` (or ``id``, a run's id) is where its point links to."""
    points = [
        ChartPoint(
            str(row[label]),
            row[value],
            row["run"] if "run" in row else f"/runs/{row['id']}",
            f"{row[label]}: {row.get('shown', shown(row[value]))}",
        )
        for row in rows
    ]
    return (bar_chart if kind == "bars" else line_chart)(points, title)
