"""Settings of the results API, read once from the environment by the entry point."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

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

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        return cls(
            db_path=Path(env.get("RESULTS_DB") or DEFAULT_DB),
            host=env.get("HOST") or DEFAULT_HOST,
            port=_port(env.get("PORT")),
            token=env.get("RESULTS_API_TOKEN") or None,
            access_log=_flag("RESULTS_API_ACCESS_LOG", env.get("RESULTS_API_ACCESS_LOG")),
        )


def _port(raw: str | None) -> int:
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SettingsError(f"PORT must be a number from 1 to 65535, got {raw!r}")
    return int(raw)


def _flag(name: str, raw: str | None) -> bool:
    value = (raw or "0").strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name} must be 1 or 0 (true/false), got {raw!r}")
