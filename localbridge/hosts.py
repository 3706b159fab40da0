"""Which ``Host`` headers a local server answers: the defence against DNS rebinding.

A page on any site can make a browser send requests to 127.0.0.1 under a name
of its own that it points at 127.0.0.1 (DNS rebinding); the browser then
treats the answers as that site's and lets the page read them. The request
still names the attacker's host in its ``Host`` header, which is what is
checked here. A server bound to a loopback address answers only loopback
names (``localhost``, ``127.x.x.x``, ``[::1]``, with or without a port);
bound to another address it also answers the names of ``ALLOWED_HOSTS``
(comma-separated, e.g. ``api,scheduler`` inside docker compose) and the
address it is bound to.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

ALLOWED_HOSTS_VARIABLE = "ALLOWED_HOSTS"
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::"})


def host_name(header: str) -> str | None:
    """The name or address of a ``Host`` header without its port, lower-cased; None if malformed."""
    value = header.strip().lower()
    if value.startswith("["):  # [v6 address] or [v6 address]:port
        end = value.find("]")
        if end < 0 or not _port_or_nothing(value[end + 1 :]):
            return None
        return value[1:end]
    name, _, port = value.partition(":")
    if not name or (port and not port.isdigit()) or value.endswith(":"):
        return None
    return name.rstrip(".")


def _port_or_nothing(rest: str) -> bool:
    return rest == "" or (rest.startswith(":") and rest[1:].isdigit())


def is_loopback(name: str) -> bool:
    """``localhost`` (or a name under it), or a loopback address (127.0.0.0/8, ::1).

    Names under ``localhost`` are loopback by RFC 6761; browsers resolve them
    without DNS, so no other site can point them elsewhere.
    """
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_allowed(text: str | None) -> frozenset[str]:
    """``ALLOWED_HOSTS``' value: comma-separated names or addresses, ports ignored."""
    names = (host_name(part) for part in (text or "").split(",") if part.strip())
    return frozenset(name for name in names if name)


@dataclass(frozen=True)
class HostPolicy:
    """The ``Host`` names one server answers to."""

    bound_to: str
    extra: frozenset[str] = frozenset()

    @classmethod
    def for_address(cls, bound_to: str, env: Mapping[str, str] | None = None) -> HostPolicy:
        """The policy of a server bound to ``bound_to``, ``ALLOWED_HOSTS`` read from ``env``."""
        environment = os.environ if env is None else env
        return cls(bound_to, parse_allowed(environment.get(ALLOWED_HOSTS_VARIABLE)))

    @property
    def loopback_only(self) -> bool:
        name = host_name(self.bound_to)
        return name is not None and is_loopback(name)

    def names(self) -> Iterable[str]:
        """What is answered besides the loopback names (nothing when bound to loopback)."""
        if self.loopback_only:
            return frozenset()
        own = host_name(self.bound_to)
        mine = {own} if own and own not in WILDCARD_ADDRESSES else set()
        return self.extra | mine

    def allows(self, header: str | None) -> bool:
        """Whether a request with this ``Host`` header (None: none sent) is answered."""
        if header is None:
            return False
        name = host_name(header)
        if name is None:
            return False
        return is_loopback(name) or name in self.names()

    def refusal(self, header: str | None) -> str:
        """The message a refused request gets: what was wrong, and what to do."""
        shown = "no Host header" if header is None else f"Host {header[:100]!r}"
        if self.loopback_only:
            return (
                f"{shown} refused: this server is bound to {self.bound_to} and answers"
                " only localhost, 127.0.0.1 or [::1]"
            )
        return (
            f"{shown} refused: not a loopback name and not in {ALLOWED_HOSTS_VARIABLE}"
            f" ({', '.join(sorted(self.names())) or 'empty'}); add it there"
        )
