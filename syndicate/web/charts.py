"""Charts drawn on the server: the layout of bar and line charts for SVG in a template
(``templates/_charts.html``), so pages need no JavaScript and every chart has a table twin.

Features hand over plain series; the macros add the title, description and table that make
a chart accessible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 720
HEIGHT = 180
TOP = 12
BOTTOM = 24


@dataclass(frozen=True)
class Bar:
    key: Any  # what the bar stands for (a day, a week, a target...)
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    """Bars of one value per key, scaled to the largest."""

    bars: list[Bar]
    peak: float
    total: float
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def baseline(self) -> int:
        return self.height - BOTTOM

    @property
    def first(self) -> Bar:
        return self.bars[0]

    @property
    def last(self) -> Bar:
        return self.bars[-1]


def bar_chart(
    series: Sequence[tuple[Any, str, float]], *, width: int = WIDTH, height: int = HEIGHT
) -> BarChart:
    """Lay out (key, label, value) as bars from left to right; a non-zero value always shows."""
    peak = max((value for _, _, value in series), default=0)
    slot = width / max(len(series), 1)
    usable = height - TOP - BOTTOM
    bars = []
    for i, (key, label, value) in enumerate(series):
        size = (value / peak * usable) if peak else 0.0
        size = max(size, 2.0) if value else 0.0
        bars.append(
            Bar(
                key,
                label,
                value,
                round(i * slot + 1, 2),
                round(height - BOTTOM - size, 2),
                round(max(slot - 2, 1), 2),
                round(size, 2),
            )
        )
    return BarChart(bars, peak, sum(value for _, _, value in series), width, height)


@dataclass(frozen=True)
class Point:
    label: str
    value: float
    x: float
    y: float


@dataclass(frozen=True)
class LineChart:
    """A line through (position, value) points, positions scaled to the width."""

    points: list[Point]
    peak: float
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def baseline(self) -> int:
        return self.height - BOTTOM

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x},{p.y}" for p in self.points)

    @property
    def first(self) -> Point:
        return self.points[0]

    @property
    def last(self) -> Point:
        return self.points[-1]


def line_chart(
    series: Sequence[tuple[float, str, float]], *, width: int = WIDTH, height: int = HEIGHT
) -> LineChart:
    """Lay out (position, label, value) points, e.g. position = a timestamp."""
    peak = max((value for _, _, value in series), default=0)
    low = min((pos for pos, _, _ in series), default=0.0)
    high = max((pos for pos, _, _ in series), default=0.0)
    span = high - low
    usable = height - TOP - BOTTOM
    margin = 4
    points = [
        Point(
            label,
            value,
            round(margin + ((pos - low) / span if span else 0.5) * (width - 2 * margin), 2),
            round(height - BOTTOM - (value / peak * usable if peak else 0.0), 2),
        )
        for pos, label, value in series
    ]
    return LineChart(points, peak, width, height)
