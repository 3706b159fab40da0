"""A real headless Chromium for the console's browser tests, driven by Playwright.

Playwright cannot download its own browser here, so it drives Debian's
``chromium`` through its executable path. Where no browser can be had the
tests skip, saying so.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


@contextmanager
def browser_page(profile: Path) -> Iterator[Any]:
    """A page in a fresh Chromium profile; skips the test when there is no browser."""
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium here (Debian package `chromium`; .ci/run installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip package `playwright`)")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
        )
        try:
            page = context.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            context.close()


def save_screenshot(page: Any, name: str, selector: str | None = None) -> None:
    """Into docs/images/, only when UPDATE_SCREENSHOTS=1 (so `make test` leaves the tree clean)."""
    if os.environ.get("UPDATE_SCREENSHOTS") != "1":
        return
    from tests.support import ROOT

    target = ROOT / "docs" / "images" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if selector is None:
        page.screenshot(path=str(target), full_page=True)
    else:
        page.locator(selector).first.screenshot(path=str(target))
