"""Any value a job put in a result, shown as it is and plotted only when it can be.

A result is whatever a job posted: 1.7e308, 5e-324, a 400-digit integer, a
string, nothing at all. ``shown`` writes each as text without ever raising;
``plotted`` gives the float a chart can place, or None when there is none.
"""

from __future__ import annotations

import json
import math
from typing import Any

PLAIN_LIMIT = 1e15
"""From here on (and below ``SMALL``), figures are written in scientific notation."""
SMALL = 1e-3
DIGITS_SHOWN = 4000
"""Python refuses to write integers much longer than this; a longer one is abridged."""


def plotted(value: Any) -> float | None:
    """The value as a finite float, or None (missing, not a number, not finite, too big)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return number if math.isfinite(number) else None


def _integer(value: int) -> str:
    if abs(value) < PLAIN_LIMIT:
        return f"{value:,}"
    try:
        return str(value)
    except ValueError:  # longer than Python writes integers
        return f"an integer of more than {DIGITS_SHOWN} digits"


def _float(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < PLAIN_LIMIT:
        return f"{value:,.0f}"
    if abs(value) >= PLAIN_LIMIT or abs(value) < SMALL:
        return f"{value:.6g}"
    return f"{value:,.2f}"


def shown(value: Any) -> str:
    """The value as people read it: whole numbers plain, others to 2 decimals."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return _integer(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return value
    return compact_json(value)


def compact_json(value: Any) -> str:
    """JSON on one line; never raises (what JSON cannot hold is written as text)."""
    try:
        return json.dumps(value, separators=(",", ":"), default=str)
    except ValueError:
        return repr(value)[:10_000]
