"""The frame around every console page: navigation, style, and the script that
keeps a page live (server-sent events from ``/events``; on each, the page's
``#live`` part is fetched again and swapped in). No file is loaded from anywhere.
"""

from __future__ import annotations

from html import escape

NAV = (("/", "Functions"), ("/runs", "Runs"), ("/dlq", "Dead letters"), ("/results", "Results"))

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2530;background:#f6f7f9}
header{display:flex;gap:1.5em;align-items:center;padding:.6em 1.2em;background:#1d2530;color:#fff}
header a{color:#cfe3ff;text-decoration:none;font-weight:600}header a.on{color:#fff;
border-bottom:2px solid #7fb2ff}#clock{margin-left:auto;font-family:monospace;color:#cfd6df}
main{padding:1em 1.2em}h1{font-size:1.3em;margin:.2em 0 .6em}h2{font-size:1.1em;margin:1.2em 0 .4em}
table{border-collapse:collapse;background:#fff;margin-bottom:1em}td,th{padding:.3em .6em;
border-bottom:1px solid #e3e6ea;text-align:left;vertical-align:top}th{background:#eef1f4}
code,pre,.mono{font-family:ui-monospace,monospace;font-size:12.5px}
pre{background:#fff;border:1px solid #e3e6ea;padding:.6em;overflow:auto;max-height:24em;
white-space:pre-wrap}
form.inline{display:inline}button{cursor:pointer;margin:0 .15em}.state{font-weight:600}
.succeeded{color:#16794a}.dead,.failed,.error,.timeout,.crashed{color:#b3261e}
.retrying,.running,.pending{color:#a15c00}.paused{color:#6b4bb8;font-weight:600}
.note{color:#5b6573}.problem{color:#b3261e;font-weight:600}
svg.chart{background:#fff;border:1px solid #e3e6ea}svg .grid{stroke:#e8ebef}
svg .axis{font-size:11px;fill:#5b6573}svg .line{fill:none;stroke:#2b6cb0;stroke-width:2}
svg .dot{fill:#2b6cb0}svg .bar{fill:#4c8bd6}svg .value{font-size:11px;fill:#1d2530}
svg a:hover .bar,svg a:hover .dot{fill:#e07b00}
"""

SCRIPT = """
(() => {
  let busy = false, again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try {
      const response = await fetch(location.href, {headers: {Accept: "text/html"}});
      if (response.ok) {
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
        for (const id of ["live", "clock"]) {
          const now = document.getElementById(id), next = fresh.getElementById(id);
          if (now && next) now.replaceWith(next);
        }
      }
    } catch (error) { /* the console stopped; the page keeps what it shows */ }
    busy = false;
    if (again) { again = false; setTimeout(refresh, 250); }
  }
  if (window.EventSource) new EventSource("/events").onmessage = refresh;
})();
"""


def page(title: str, path: str, clock: str | None, body: str, live: str = "") -> str:
    """A whole page; ``live`` is the part that refreshes itself, ``body`` stays put."""
    links = "".join(
        f'<a href="{href}"{" class=on" if href == path else ""}>{label}</a>' for href, label in NAV
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · localbridge</title><style>{STYLE}</style></head><body>"
        f'<header><strong>localbridge</strong>{links}<a href="/metrics">Metrics</a>'
        f'<span id="clock">clock {escape(clock or "-")}</span></header>'
        f'<main><h1>{escape(title)}</h1>{body}<div id="live">{live}</div></main>'
        f"<script>{SCRIPT}</script></body></html>"
    )


def action(path: str, label: str, token: str, back: str, **fields: str | int) -> str:
    """A button that POSTs one action with the console's token."""
    hidden = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(str(value))}">'
        for name, value in fields.items()
    )
    return (
        f'<form class="inline" method="post" action="{escape(path)}">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        f'<input type="hidden" name="next" value="{escape(back)}">{hidden}'
        f"<button>{escape(label)}</button></form>"
    )


def state(value: str | None) -> str:
    text = value or "-"
    return f'<span class="state {escape(text)}">{escape(text)}</span>'


def table(header: list[str], rows: list[list[str]], empty: str) -> str:
    """An HTML table of cells already escaped; ``empty`` when there are no rows."""
    if not rows:
        return f'<p class="note">{escape(empty)}</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def error_page(status: int, message: str, clock: str | None) -> str:
    body = f'<p class="problem">{escape(message)}</p><p><a href="/">Back to the functions</a></p>'
    return page(f"{status}: cannot do that", "", clock, body)
