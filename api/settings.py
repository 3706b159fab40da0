"""Settings of the results API, read once from the environment by the entry point."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from api.protocol import DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, host_allowed, host_name

T = TypeVar("T")
DEFAULT_HOST = "127.0.0.1"
SECONDS = "a number of seconds from 0 to 3600"
# The values of a yes/no variable, read case-insensitively.
FLAGS = dict.fromkeys(("1", "true", "yes", "on"), True) | dict.fromkeys(
    ("0", "false", "no", "off", ""), False
)


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Everything the app needs; built explicitly in tests, from the environment in `main`."""

    db_path: Path = Path("data/results.db")
    host: str = DEFAULT_HOST
    port: int = 5000
    token: str | None = None  # None: POST is open; else it needs `Authorization: Bearer <token>`
    access_log: bool = False
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    # Host names answered besides loopback ones (api/protocol.py).
    allowed_hosts: frozenset[bytes] = frozenset()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        def read(name: str, default: T, parse: Callable[[str], T | None], wanted: str) -> T:
            raw = env.get(name)
            if not raw:
                return default
            value = parse(raw)
            if value is None:
                raise SettingsError(f"{name} must be {wanted}, got {raw!r}")
            return value

        host = env.get("HOST") or DEFAULT_HOST
        return cls(
            db_path=Path(env.get("RESULTS_DB") or cls.db_path),
            host=host,
            port=read("PORT", cls.port, port_number, "a number from 1 to 65535"),
            token=token(env.get("RESULTS_API_TOKEN")),
            access_log=read("RESULTS_API_ACCESS_LOG", False, flag, "1 or 0 (true/false)"),
            header_timeout=read("RESULTS_API_HEADER_TIMEOUT", cls.header_timeout, seconds, SECONDS),
            body_timeout=read("RESULTS_API_BODY_TIMEOUT", cls.body_timeout, seconds, SECONDS),
            allowed_hosts=allowed_hosts(host, env.get("ALLOWED_HOSTS")),
        )


def port_number(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and 0 < int(raw) < 65536 else None


def seconds(raw: str) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if 0 < value <= 3600 else None


def flag(raw: str) -> bool | None:
    return FLAGS.get(raw.strip().lower())


def token(raw: str | None) -> str | None:
    if not raw:
        return None
    if raw != raw.strip():
        # HTTP strips whitespace around header values, so no client could ever match.
        raise SettingsError(
            "RESULTS_API_TOKEN has whitespace around it, which no client can send;"
            " remove the surrounding spaces or newlines"
        )
    if not raw.isprintable():
        raise SettingsError("RESULTS_API_TOKEN holds control characters; use printable ones")
    return raw


def allowed_hosts(host: str, listed: str | None) -> frozenset[bytes]:
    """Nothing beyond loopback names when bound to loopback; else ``listed`` and ``host``."""
    bound = host.strip("[]").lower().encode()
    if host_allowed(b"[%s]" % bound if b":" in bound else bound, frozenset()):
        return frozenset()
    names = {host_name(name.encode()) for name in (listed or "").split(",")}
    return frozenset(names | {bound}) - {b"", b"0.0.0.0", b"::"}


def auth_notice(env: Mapping[str, str]) -> str:
    """The line the server prints at start about who may POST."""
    raw = env.get("RESULTS_API_TOKEN")
    if raw is None:
        return "POST /result is open to anyone: RESULTS_API_TOKEN is not set"
    if not raw:
        return (
            "warning: RESULTS_API_TOKEN is set but empty, so POST /result is open to anyone;"
            " set a token, or unset the variable to make that explicit"
        )
    return "POST /result needs 'Authorization: Bearer <RESULTS_API_TOKEN>'"
