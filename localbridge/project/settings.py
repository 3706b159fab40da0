"""Per-function reliability settings, read from ``.chalice/config.json``.

They live where users already configure the stage::

    "stages": {"local": {"localbridge": {
        "defaults": {"retry_delays": [1, 2]},
        "functions": {"registrations_per_day": {"catch_up": "latest"}}
    }}}

Every key is optional; the defaults are AWS's for asynchronous invocation of a
scheduled Lambda function. Anything unknown or out of range is a
``SettingsError`` naming the key, raised at startup, never at fire time.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """The ``localbridge`` section of the configuration is invalid."""


class CatchUp(enum.StrEnum):
    """What to do on start with ticks that fell due while the runtime was down."""

    ALL = "all"
    """Run every missed tick still within the maximum event age, oldest first."""
    LATEST = "latest"
    """Run only the most recent missed tick; record the others as skipped."""
    NONE = "none"
    """Run none of them; record them as skipped."""


MAX_RETRY_ATTEMPTS = 2
MAX_EVENT_AGE = timedelta(hours=6)


@dataclass(frozen=True)
class FunctionSettings:
    """How one function's ticks are retried, expired, caught up and limited."""

    maximum_retry_attempts: int = MAX_RETRY_ATTEMPTS
    retry_delays: tuple[timedelta, ...] = (timedelta(seconds=60), timedelta(seconds=120))
    """Delay before retry 1, 2...; the last one repeats if there are fewer delays."""
    maximum_event_age: timedelta = MAX_EVENT_AGE
    catch_up: CatchUp = CatchUp.ALL
    max_concurrency: int | None = None
    """At most this many runs of the function at once; None is unlimited."""

    def retry_delay(self, retry_number: int) -> timedelta:
        """The wait before retry ``retry_number`` (1-based)."""
        assert retry_number >= 1
        return self.retry_delays[min(retry_number, len(self.retry_delays)) - 1]


@dataclass(frozen=True)
class ReliabilitySettings:
    """The stage's defaults plus per-function overrides."""

    defaults: FunctionSettings = field(default_factory=FunctionSettings)
    functions: Mapping[str, FunctionSettings] = field(default_factory=dict)

    def for_function(self, name: str) -> FunctionSettings:
        return self.functions.get(name, self.defaults)


def _seconds(value: Any, key: str, *, maximum: float | None = None) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SettingsError(f"{key}: expected a number of seconds, got {value!r}")
    if value <= 0:
        raise SettingsError(f"{key}: must be more than 0 seconds, got {value!r}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{key}: at most {maximum:g} seconds, got {value!r}")
    return timedelta(seconds=value)


def _retry_attempts(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2:
        raise SettingsError(f"{key}: must be 0, 1 or 2 (as in AWS), got {value!r}")
    return value


def _retry_delays(value: Any, key: str) -> tuple[timedelta, ...]:
    if not isinstance(value, list) or not value:
        raise SettingsError(f"{key}: expected a non-empty list of seconds, got {value!r}")
    return tuple(_seconds(item, f"{key}[{i}]") for i, item in enumerate(value))


def _catch_up(value: Any, key: str) -> CatchUp:
    try:
        return CatchUp(value)
    except ValueError:
        choices = ", ".join(policy.value for policy in CatchUp)
        raise SettingsError(f"{key}: unknown policy {value!r}; choose one of {choices}") from None


def _max_concurrency(value: Any, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SettingsError(f"{key}: expected a whole number >= 1 or null, got {value!r}")
    return value


_PARSERS = {
    "maximum_retry_attempts": _retry_attempts,
    "retry_delays": _retry_delays,
    "maximum_event_age": lambda v, k: _seconds(v, k, maximum=MAX_EVENT_AGE.total_seconds()),
    "catch_up": _catch_up,
    "max_concurrency": _max_concurrency,
}


def _mapping(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise SettingsError(f"{key}: expected an object, got {value!r}")
    return value


def _apply(base: FunctionSettings, section: Any, key: str) -> FunctionSettings:
    changes: dict[str, Any] = {}
    for name, value in _mapping(section, key).items():
        parser = _PARSERS.get(name)
        if parser is None:
            known = ", ".join(_PARSERS)
            raise SettingsError(f"{key}.{name}: unknown setting; known ones are {known}")
        changes[name] = parser(value, f"{key}.{name}")
    return replace(base, **changes)


def parse_settings(
    section: Any, function_names: Collection[str], key: str = "localbridge"
) -> ReliabilitySettings:
    """Validate one ``localbridge`` section against the app's scheduled functions."""
    if section is None:
        return ReliabilitySettings()
    section = _mapping(section, key)
    unknown = set(section) - {"defaults", "functions"}
    if unknown:
        name = sorted(unknown)[0]
        raise SettingsError(f"{key}.{name}: unknown key; expected 'defaults' and/or 'functions'")
    defaults = _apply(FunctionSettings(), section.get("defaults", {}), f"{key}.defaults")
    overrides: dict[str, FunctionSettings] = {}
    for name, function_section in _mapping(
        section.get("functions", {}), f"{key}.functions"
    ).items():
        if name not in function_names:
            known = ", ".join(sorted(function_names)) or "none"
            raise SettingsError(
                f"{key}.functions.{name}: no scheduled function of that name "
                f"(scheduled functions: {known})"
            )
        overrides[name] = _apply(defaults, function_section, f"{key}.functions.{name}")
    return ReliabilitySettings(defaults, overrides)


def load_settings(
    project_dir: Path, stage: str, function_names: Collection[str]
) -> ReliabilitySettings:
    """The ``localbridge`` section of ``stages.<stage>`` in ``.chalice/config.json``."""
    path = project_dir / ".chalice" / "config.json"
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        return ReliabilitySettings()
    except json.JSONDecodeError as error:
        raise SettingsError(f"{path}: not valid JSON ({error})") from None
    stage_config = _mapping(config, str(path)).get("stages", {}).get(stage, {})
    key = f"stages.{stage}.localbridge"
    return parse_settings(
        _mapping(stage_config, f"stages.{stage}").get("localbridge"), function_names, key
    )
