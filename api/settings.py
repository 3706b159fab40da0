"""Settings of the results API, read once from the environment by the entry point."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from api.protocol import DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, host_allowed, host_name

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
DEFAULT_DB = Path("data/results.db")


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Everything the app needs; built explicitly in tests, from the environment in `main`."""

    db_path: Path = DEFAULT_DB
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # None: POST is open. Otherwise POST requires `Authorization: Bearer <token>`.
    token: str | None = None
    access_log: bool = False
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    # Host names answered besides loopback ones: ALLOWED_HOSTS (and the bound
    # address), only when bound beyond loopback (api/protocol.py).
    allowed_hosts: frozenset[bytes] = frozenset()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            db_path=Path(env.get("RESULTS_DB") or DEFAULT_DB),
            host=env.get("HOST") or DEFAULT_HOST,
            port=_port(env.get("PORT")),
            token=_token(env.get("RESULTS_API_TOKEN")),
            access_log=_flag("RESULTS_API_ACCESS_LOG", env.get("RESULTS_API_ACCESS_LOG")),
            header_timeout=_seconds("RESULTS_API_HEADER_TIMEOUT", env, DEFAULT_HEADER_TIMEOUT),
            body_timeout=_seconds("RESULTS_API_BODY_TIMEOUT", env, DEFAULT_BODY_TIMEOUT),
            allowed_hosts=allowed_hosts(env.get("HOST") or DEFAULT_HOST, env.get("ALLOWED_HOSTS")),
        )


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


def _token(raw: str | None) -> str | None:
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


def _port(raw: str | None) -> int:
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SettingsError(f"PORT must be a number from 1 to 65535, got {raw!r}")
    return int(raw)


def _seconds(name: str, env: Mapping[str, str], default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value <= 3600:
        raise SettingsError(f"{name} must be a number of seconds from 0 to 3600, got {raw!r}")
    return value


def _flag(name: str, raw: str | None) -> bool:
    value = (raw or "0").strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name} must be 1 or 0 (true/false), got {raw!r}")
