"""Charts laid out on the server as plain data; ``templates/charts.html`` draws them as SVG.

Nothing is loaded from a network, so the console works offline. A line for a
metric over weeks (or a duration over runs), bars for one over days. Each
point is a link (to the run that produced it) with a tooltip, and is labelled
with its value when there is room, so a person - or a test - reads the figure
off the chart. Any value is safe: what cannot be placed (missing, not finite,
beyond a float) leaves a gap.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from localbridge.console.numbers import shown

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 24, 56
LABELLED_POINTS = 40
"""Up to this many points each carries its value as text."""
AXIS_LABELS = 12


@dataclass(frozen=True)
class ChartPoint:
    label: str
    value: float | None
    href: str | None
    title: str


@dataclass(frozen=True)
class Mark:
    """One point placed: a dot at (x, y), or a bar from y down to the base."""

    x: float
    y: float
    href: str | None
    title: str
    text: str | None
    """The value written above it, when there is room."""


@dataclass(frozen=True)
class Chart:
    kind: str
    """``line`` or ``bars``."""
    title: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    base: float = HEIGHT - BOTTOM
    bar_width: float = 0.0
    grid: list[tuple[float, str]] = field(default_factory=list)
    """(y, the value there) for each horizontal line."""
    labels: list[tuple[float, str]] = field(default_factory=list)
    """(x, label) along the bottom."""
    segments: list[str] = field(default_factory=list)
    """Polyline points of each unbroken stretch of a line."""
    marks: list[Mark] = field(default_factory=list)


def nice_ceiling(value: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``value`` (axes end on round numbers);
    ``value`` itself where no such number is a float (near the ends of the range)."""
    if not value > 0:
        return 1.0
    if not math.isfinite(value):
        return sys.float_info.max
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        top = step * power
        if math.isfinite(top) and top >= value:
            return top
    return value


def _top(points: Sequence[ChartPoint]) -> float:
    values = [p.value for p in points if p.value is not None and p.value > 0]
    highest = max(values, default=0.0)
    return nice_ceiling(min(highest * 1.1, sys.float_info.max))


def _x(index: int, count: int) -> float:
    plot_w = WIDTH - LEFT - RIGHT
    return LEFT + plot_w * (index + 0.5) / max(count, 1)


def _y(value: float, top: float) -> float:
    plot_h = HEIGHT - TOP - BOTTOM
    share = min(max(value / top, 0.0), 1.0)  # below zero sits on the axis
    return TOP + plot_h - plot_h * share


def axis_label(value: float) -> str:
    """A grid line's value, short enough for the margin left of the plot."""
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.2g}"
    return shown(value)


def _frame(kind: str, points: Sequence[ChartPoint], top: float, title: str) -> Chart:
    # top * (i / 4), not top * i / 4: near the largest float, top * 4 is infinite.
    grid = [(_y(top * (i / 4), top), axis_label(top * (i / 4))) for i in range(5)]
    step = max(1, math.ceil(len(points) / AXIS_LABELS))
    labels = [(_x(i, len(points)), p.label) for i, p in enumerate(points) if i % step == 0]
    return Chart(kind, title, grid=grid, labels=labels)


def _mark(point: ChartPoint, index: int, count: int, top: float) -> Mark:
    value = point.value or 0.0
    text = None if point.value is None or count > LABELLED_POINTS else shown(point.value)
    return Mark(_x(index, count), _y(value, top), point.href, point.title, text)


def line_chart(points: Sequence[ChartPoint], title: str) -> Chart:
    """A line through the points, broken where a value is missing (no rows that period)."""
    top = _top(points)
    chart = _frame("line", points, top, title)
    segment: list[str] = []
    for index, point in enumerate(points):
        if point.value is None:
            chart.segments.append(" ".join(segment))
            segment = []
            continue
        segment.append(f"{_x(index, len(points)):.1f},{_y(point.value, top):.1f}")
        chart.marks.append(_mark(point, index, len(points), top))
    chart.segments.append(" ".join(segment))
    chart.segments[:] = [s for s in chart.segments if " " in s]
    return chart


def bar_chart(points: Sequence[ChartPoint], title: str) -> Chart:
    """One bar per point."""
    top = _top(points)
    chart = _frame("bars", points, top, title)
    plot_w = WIDTH - LEFT - RIGHT
    bar_width = max(2.0, plot_w / max(len(points), 1) * 0.7)
    marks = [_mark(point, i, len(points), top) for i, point in enumerate(points)]
    return Chart(
        "bars", title, base=_y(0, top), bar_width=bar_width, grid=chart.grid,
        labels=chart.labels, marks=marks,
    )  # fmt: skip
