"""Charts drawn as SVG on the server: nothing to load, so the console works offline.

A line for a metric over weeks, bars for one over days. Each point is a link
(to the run that produced it) with a tooltip, and is labelled with its value
when there is room, so a person - or a test - reads the figure off the chart.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 760, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 24, 56
LABELLED_POINTS = 40
"""Up to this many points each carries its value as text."""


@dataclass(frozen=True)
class ChartPoint:
    label: str
    value: float | None
    href: str | None
    title: str


def number(value: float) -> str:
    """A figure as people read it: whole numbers plain, others to 2 decimals."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def nice_ceiling(value: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``value`` (axes end on round numbers)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def _frame(points: Sequence[ChartPoint], top: float, title: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}">',
        f"<title>{escape(title)}</title>",
    ]
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(number(value))}</text>"
        )
    step = max(1, math.ceil(len(points) / 12))
    for index, point in enumerate(points):
        if index % step == 0:
            x = _x(index, len(points))
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                f'text-anchor="end" transform="rotate(-35 {x:.1f} {HEIGHT - BOTTOM + 16})">'
                f"{escape(point.label)}</text>"
            )
    return parts


def _x(index: int, count: int) -> float:
    plot_w = WIDTH - LEFT - RIGHT
    return LEFT + plot_w * (index + 0.5) / max(count, 1)


def _y(value: float, top: float) -> float:
    plot_h = HEIGHT - TOP - BOTTOM
    return TOP + plot_h - plot_h * value / top


def _linked(point: ChartPoint, body: str) -> str:
    tip = f"<title>{escape(point.title)}</title>"
    if point.href is None:
        return f"<g>{tip}{body}</g>"
    return f'<a href="{escape(point.href)}">{tip}{body}</a>'


def _value_label(point: ChartPoint, x: float, y: float, count: int) -> str:
    if point.value is None or count > LABELLED_POINTS:
        return ""
    return (
        f'<text class="value" x="{x:.1f}" y="{y - 7:.1f}" text-anchor="middle">'
        f"{escape(number(point.value))}</text>"
    )


def _top(points: Sequence[ChartPoint]) -> float:
    values = [p.value for p in points if p.value is not None]
    return nice_ceiling(max(values, default=0.0) * 1.1)


def line_chart(points: Sequence[ChartPoint], title: str) -> str:
    """A line through the points, broken where a value is missing (no rows that period)."""
    top = _top(points)
    parts = _frame(points, top, title)
    segment: list[str] = []
    segments = []
    for index, point in enumerate(points):
        if point.value is None:
            segments.append(segment)
            segment = []
            continue
        segment.append(f"{_x(index, len(points)):.1f},{_y(point.value, top):.1f}")
    segments.append(segment)
    parts += [f'<polyline class="line" points="{" ".join(s)}"/>' for s in segments if len(s) > 1]
    for index, point in enumerate(points):
        if point.value is None:
            continue
        x, y = _x(index, len(points)), _y(point.value, top)
        dot = f'<circle class="dot" cx="{x:.1f}" cy="{y:.1f}" r="4"/>'
        parts.append(_linked(point, dot + _value_label(point, x, y, len(points))))
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(points: Sequence[ChartPoint], title: str) -> str:
    """One bar per point."""
    top = _top(points)
    parts = _frame(points, top, title)
    plot_w = WIDTH - LEFT - RIGHT
    bar_w = max(2.0, plot_w / max(len(points), 1) * 0.7)
    base = _y(0, top)
    for index, point in enumerate(points):
        value = point.value or 0.0
        x, y = _x(index, len(points)), _y(value, top)
        bar = (
            f'<rect class="bar" x="{x - bar_w / 2:.1f}" y="{y:.1f}" '
            f'width="{bar_w:.1f}" height="{base - y:.1f}"/>'
        )
        parts.append(_linked(point, bar + _value_label(point, x, y, len(points))))
    parts.append("</svg>")
    return "".join(parts)
