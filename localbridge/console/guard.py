"""Protection of the console's actions against cross-site requests.

A page on another site can make a browser POST to 127.0.0.1:3000; it cannot
read the console's pages, so it cannot know the per-process token every
action form carries. Browsers also say where a request comes from: a
``Sec-Fetch-Site`` other than same-origin (or none, typed by the user) and an
``Origin`` that is not the console's own are refused before the token is read.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping


class ForbiddenError(Exception):
    """A request the console refuses to act on; the message says why."""


def new_token() -> str:
    return secrets.token_urlsafe(24)


def check_action(headers: Mapping[str, str], form_token: str | None, token: str) -> None:
    """Raise ``ForbiddenError`` unless the request is same-origin and carries ``token``."""
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        raise ForbiddenError(f"cross-site request refused (Sec-Fetch-Site: {site})")
    origin = headers.get("Origin")
    host = headers.get("Host")
    if origin is not None and origin != "null" and origin != f"http://{host}":
        raise ForbiddenError(f"request from another origin refused ({origin})")
    if origin == "null":
        raise ForbiddenError("request from an opaque origin refused")
    if form_token is None or not hmac.compare_digest(form_token.encode(), token.encode()):
        raise ForbiddenError("missing or stale console token: reload the page and try again")
