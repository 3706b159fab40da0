"""Per-function reliability settings, read from ``.chalice/config.json``.

They live where users already configure the stage::

    "stages": {"local": {"localbridge": {
        "defaults": {"retry_delays": [1, 2]},
        "functions": {"registrations_per_day": {"catch_up": "latest"}}
    }}}

Every key is optional; the defaults are AWS's for asynchronous invocation of a
scheduled Lambda function. Anything unknown or out of range is a
``ConfigError`` naming the key, raised at startup, never at fire time.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from localbridge.model import MAX_EVENT_AGE, CatchUp, FunctionSettings
from localbridge.project.config import ConfigError, StageConfig

MIN_EVENT_AGE_S = 60
DEFAULT_RETENTION = timedelta(days=7)
"""How long ``run`` keeps finished runs (``retention_days``): a laptop's ledger stays small."""
MAX_RETENTION_DAYS = 36500


@dataclass(frozen=True)
class ReliabilitySettings:
    """The stage's defaults plus per-function overrides."""

    defaults: FunctionSettings = field(default_factory=FunctionSettings)
    functions: Mapping[str, FunctionSettings] = field(default_factory=dict)

    def for_function(self, name: str) -> FunctionSettings:
        return self.functions.get(name, self.defaults)


def _seconds(value: Any, key: str, *, maximum: float, minimum: float | None = None) -> timedelta:
    # JSON as Python reads it accepts NaN and Infinity, and 1e308 is a number
    # no timedelta can hold: all three are refused here, not at fire time.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{key}: expected a number of seconds, got {value!r}")
    if value <= 0:
        raise ConfigError(f"{key}: must be more than 0 seconds, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{key}: at least {minimum:g} seconds (as in AWS), got {value!r}")
    if value > maximum:
        raise ConfigError(f"{key}: at most {maximum:g} seconds, got {value!r}")
    return timedelta(seconds=value)


def _retry_attempts(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2:
        raise ConfigError(f"{key}: must be 0, 1 or 2 (as in AWS), got {value!r}")
    return value


def _retry_delays(value: Any, key: str) -> tuple[timedelta, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{key}: expected a non-empty list of seconds, got {value!r}")
    # A retry later than the maximum event age could never happen.
    limit = MAX_EVENT_AGE.total_seconds()
    return tuple(_seconds(item, f"{key}[{i}]", maximum=limit) for i, item in enumerate(value))


def _catch_up(value: Any, key: str) -> CatchUp:
    try:
        return CatchUp(value)
    except ValueError:
        choices = ", ".join(policy.value for policy in CatchUp)
        raise ConfigError(f"{key}: unknown policy {value!r}; choose one of {choices}") from None


def _max_concurrency(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{key}: expected a whole number >= 1 or null, got {value!r}")
    return value


def _retention(value: Any, key: str) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"{key}: expected a number of days or null (keep everything), "
                          f"got {value!r}")  # fmt: skip
    if not 0 < value <= MAX_RETENTION_DAYS:
        raise ConfigError(
            f"{key}: expected more than 0 days, at most {MAX_RETENTION_DAYS}, "
            f"or null to keep everything; got {value!r}"
        )
    return timedelta(days=value)


_DEFAULT_DAYS = DEFAULT_RETENTION.days

_PARSERS = {
    "maximum_retry_attempts": _retry_attempts,
    "retry_delays": _retry_delays,
    # AWS's range for MaximumEventAgeInSeconds: 60 s to 6 h.
    "maximum_event_age": lambda v, k: _seconds(
        v, k, minimum=MIN_EVENT_AGE_S, maximum=MAX_EVENT_AGE.total_seconds()
    ),
    "catch_up": _catch_up,
    "max_concurrency": _max_concurrency,
}


def _mapping(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{key}: expected an object, got {value!r}")
    return value


def _apply(base: FunctionSettings, section: Any, key: str) -> FunctionSettings:
    changes: dict[str, Any] = {}
    for name, value in _mapping(section, key).items():
        parser = _PARSERS.get(name)
        if parser is None:
            known = ", ".join(_PARSERS)
            raise ConfigError(f"{key}.{name}: unknown setting; known ones are {known}")
        changes[name] = parser(value, f"{key}.{name}")
    return replace(base, **changes)


def parse_settings(
    section: Any, function_names: Collection[str], key: str = "localbridge"
) -> ReliabilitySettings:
    """Validate one ``localbridge`` section against the app's scheduled functions."""
    if section is None:
        return ReliabilitySettings()
    section = _mapping(section, key)
    unknown = set(section) - {"defaults", "functions", "retention_days"}
    if unknown:
        name = sorted(unknown)[0]
        raise ConfigError(
            f"{key}.{name}: unknown key; expected 'defaults', 'functions', 'retention_days'"
        )
    retention_in(section, key)  # checked with the rest; ``run`` reads it with ``load_retention``
    defaults = _apply(FunctionSettings(), section.get("defaults", {}), f"{key}.defaults")
    overrides: dict[str, FunctionSettings] = {}
    for name, function_section in _mapping(
        section.get("functions", {}), f"{key}.functions"
    ).items():
        if name not in function_names:
            known = ", ".join(sorted(function_names)) or "none"
            raise ConfigError(
                f"{key}.functions.{name}: no scheduled function of that name "
                f"(scheduled functions: {known})"
            )
        overrides[name] = _apply(defaults, function_section, f"{key}.functions.{name}")
    return ReliabilitySettings(defaults, overrides)


def load_settings(config: StageConfig, function_names: Collection[str]) -> ReliabilitySettings:
    """The ``localbridge`` section of ``stages.<stage>`` in ``.chalice/config.json``."""
    key = f"stages.{config.stage}.localbridge"
    return parse_settings(config.section.get("localbridge"), function_names, key)


def load_retention(config: StageConfig) -> timedelta | None:
    """The stage's ``localbridge.retention_days``: finished runs older than this are
    pruned (``DEFAULT_RETENTION`` when unset; None keeps everything)."""
    return retention_in(config.section.get("localbridge"), f"stages.{config.stage}.localbridge")


def retention_in(section: Any, key: str) -> timedelta | None:
    """``retention_days`` of a ``localbridge`` section (``key``) or its default: the
    one reader of that setting."""
    if section is None:
        return DEFAULT_RETENTION
    days = _mapping(section, key).get("retention_days", _DEFAULT_DAYS)
    return _retention(days, f"{key}.retention_days")
