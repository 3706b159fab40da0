"""Any value a job posts is written as text and placed on a chart only when it can be."""

from __future__ import annotations

import math
import sys
from typing import Any

import pytest

from localbridge.console.charts import ChartPoint, bar_chart, line_chart, nice_ceiling
from localbridge.console.numbers import plotted, shown

HUGE_INT = int("9" * 400)


@pytest.mark.parametrize(
    ("value", "text", "drawn"),
    [
        (17, "17", 17.0),
        (2575.764705882353, "2,575.76", 2575.764705882353),
        (1.7e308, "1.7e+308", 1.7e308),
        (5e-324, "4.94066e-324", 5e-324),
        (HUGE_INT, "9" * 400, None),
        (math.inf, "Infinity", None),
        (-math.inf, "-Infinity", None),
        (math.nan, "NaN", None),
        ("many", "many", None),
        (None, "-", None),
        (True, "true", None),
        ({"a": [1]}, '{"a":[1]}', None),
    ],
)
def test_a_value_is_shown_as_it_is_and_drawn_only_when_finite(
    value: Any, text: str, drawn: float | None
) -> None:
    assert shown(value) == text
    assert plotted(value) == drawn


def test_an_integer_longer_than_python_writes_is_named_not_raised() -> None:
    assert "more than" in shown(10**5000)


@pytest.mark.parametrize(
    ("value", "top"),
    [(0.0, 1.0), (-5.0, 1.0), (7.0, 10.0), (0.3, 0.5), (1.7e308, 1.7e308),
     (5e-324, 5e-324), (math.inf, sys.float_info.max), (math.nan, 1.0)],
)  # fmt: skip
def test_an_axis_ends_on_a_round_number_where_there_is_one(value: float, top: float) -> None:
    assert nice_ceiling(value) == top


@pytest.mark.parametrize("draw", [line_chart, bar_chart])
def test_a_chart_of_extreme_values_is_laid_out_with_finite_coordinates(draw: Any) -> None:
    values = [1.7e308, 5e-324, None, -3.0, sys.float_info.max]
    chart = draw([ChartPoint(str(i), v, None, "t") for i, v in enumerate(values)], "odd")
    assert all(math.isfinite(m.y) and math.isfinite(m.x) for m in chart.marks)
    assert all("inf" not in label.lower() for _, label in chart.grid)
