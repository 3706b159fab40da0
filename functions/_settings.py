"""The jobs' settings, read from the environment at call time (never at import)."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from functions._results import ResultPoster, RetryPolicy


class SettingsError(ValueError):
    """An environment variable holds a value the jobs cannot use."""


@dataclass(frozen=True)
class Settings:
    registrations_db: str
    cache_dir: Path
    poster: ResultPoster

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        policy = RetryPolicy(
            attempts=_count(env, "RESULTS_API_ATTEMPTS", 4),
            base_delay=_number(env, "RESULTS_API_BACKOFF", 0.5),
        )
        return cls(
            registrations_db=env.get("REGISTRATIONS_DB") or "data/registrations.db",
            cache_dir=Path(env.get("REGISTRATIONS_CACHE_DIR") or tempfile.gettempdir()),
            poster=ResultPoster(
                url=env.get("RESULTS_API_URL") or "http://127.0.0.1:5000",
                token=env.get("RESULTS_API_TOKEN") or None,
                policy=policy,
            ),
        )


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a number; unset it or fix it") from None
    if not math.isfinite(value) or value < 0:
        raise SettingsError(f"{name}={text!r} is out of range; unset it or use a positive number")
    return value


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    value = _number(env, name, default)
    if value < 1 or value != int(value):
        raise SettingsError(f"{name}={env[name]!r} is not a whole number of at least 1")
    return int(value)
