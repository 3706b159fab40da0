"""Whatever a job prints, raises or returns is shown as text on every page, never run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from localbridge.ticks import TickState
from tests.localbridge.console.support import advance, console_over
from tests.localbridge.runtime.harness import wait_for_state

HOSTILE = """
@app.schedule(Cron("*", "*", "*", "*", "?", "*"))
def hostile(event):
    print("<script>window.owned = 1</script>")
    raise ValueError('<img src=x onerror="window.owned = 2">')
"""
RAW = ("<script>window.owned", "<img src=x onerror")


def test_markup_from_a_job_is_escaped_on_every_page(tmp_path: Path) -> None:
    with console_over(tmp_path, HOSTILE) as console:
        advance(console, 1)
        at = datetime(2022, 12, 19, 0, 1, tzinfo=UTC)
        tick = wait_for_state(console.ledger, "hostile", at, TickState.DEAD)
        for path in ("/", "/runs", f"/runs/{tick.id}", "/dlq", "/functions/hostile", "/stats"):
            page = console.get(path)
            assert page.status_code == 200, path
            for raw in RAW:
                assert raw not in page.text, (path, raw)
        run_page = console.get(f"/runs/{tick.id}").text
        assert "&lt;script&gt;window.owned = 1&lt;/script&gt;" in run_page
        assert "&lt;img src=x onerror=&#34;window.owned = 2&#34;&gt;" in run_page
