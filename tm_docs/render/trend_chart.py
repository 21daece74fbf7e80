"""The risk trend as a chart: the geometry of a stacked step chart, for a template.

The chart is inline SVG written by the template `_trend.md.j2` from what this
module computes: numbers, and text that the template environment escapes like
every other value.  Only the element and attribute names in `SVG_ELEMENTS`
are ever written, so a page can be checked against that list; no script, no
link, no style sheet, no external reference.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..analysis.risk import Band, RiskBands
from ..analysis.trend import ModelTrend, SitePoint, TrendPoint
from .colours import BAND_COLOURS, OTHER_BAND

# Everything the chart template writes: element -> its attributes.
SVG_ELEMENTS: dict[str, frozenset[str]] = {
    "svg": frozenset({"class", "xmlns", "viewBox", "role", "aria-labelledby", "focusable"}),
    "title": frozenset({"id"}),
    "desc": frozenset({"id"}),
    "g": frozenset({"class"}),
    "path": frozenset({"class", "d", "fill"}),
    "rect": frozenset({"class", "x", "y", "width", "height", "fill"}),
    "line": frozenset({"class", "x1", "y1", "x2", "y2", "stroke"}),
    "text": frozenset({"class", "x", "y", "text-anchor", "fill"}),
}

WIDTH = 480
HEIGHT = 200
LEFT, RIGHT, TOP, BOTTOM = 36, 10, 24, 30
MAX_COLUMNS = 280  # more commits than this are drawn in buckets (the table has them all)
MAX_ROWS = 60  # rows of the data table on a page

_SAFE_ID = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Area:
    band: Band
    color: str
    d: str  # path data: numbers and the letters M, L and Z only


@dataclass(frozen=True)
class Tick:
    position: float
    label: str
    anchor: str = "end"  # text-anchor of its label


@dataclass(frozen=True)
class Marker:
    x: float
    label: str
    current: bool
    anchor: str  # text-anchor of its label


@dataclass(frozen=True)
class GapBox:
    x: float
    width: float
    label: str


@dataclass(frozen=True)
class Chart:
    """What the template draws."""

    id: str
    title: str
    desc: str
    areas: tuple[Area, ...]
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    markers: tuple[Marker, ...]
    gaps: tuple[GapBox, ...]
    bands: tuple[Band, ...]  # the legend, highest first
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


@dataclass(frozen=True)
class Column:
    counts: Mapping[str, int] | None  # None: a gap
    day: str
    gap: str = ""


def _nice_step(top: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if top / step <= 5:
            return step
    return int(10 ** math.ceil(math.log10(max(top, 1) / 5)))


def _fmt(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _bucketed(columns: Sequence[Column]) -> tuple[list[Column], list[int]]:
    """At most MAX_COLUMNS columns: each bucket shows its last column. Also returns, for
    each drawn column, the index of the last original column it stands for."""
    if len(columns) <= MAX_COLUMNS:
        return list(columns), list(range(len(columns)))
    size = math.ceil(len(columns) / MAX_COLUMNS)
    ends = [min(i + size, len(columns)) - 1 for i in range(0, len(columns), size)]
    return [columns[e] for e in ends], ends


def stacked_chart(
    chart_id: str,
    title: str,
    desc: str,
    bands: RiskBands,
    columns: Sequence[Column],
    markers: Sequence[tuple[int, str, bool]] = (),
) -> Chart:
    """A stacked step chart of counts per band, one column per commit (oldest left).

    `markers`: (number of original columns before the marker, label, current).
    """
    drawn, ends = _bucketed(columns)
    n = max(len(drawn), 1)
    left, right, top, bottom = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    slot = (right - left) / n
    order = list(reversed(bands.bands))  # critical at the bottom: its count reads off the axis
    totals = [sum(c.counts.values()) if c.counts else 0 for c in drawn]
    ceiling = max([*totals, 1])
    step = _nice_step(ceiling)
    ceiling = math.ceil(ceiling / step) * step

    def y(value: float) -> float:
        return bottom - (bottom - top) * value / ceiling

    def x(i: int) -> float:
        return left + i * slot

    areas = []
    for k, band in enumerate(order):
        below = order[:k]
        parts = []
        for run in _runs(drawn):
            counts = [drawn[i].counts or {} for i in run]
            uppers = [sum(c.get(b.name, 0) for b in (*below, band)) for c in counts]
            lowers = [sum(c.get(b.name, 0) for b in below) for c in counts]
            if uppers == lowers:
                continue
            edge = _steps([x(i) for i in run] + [x(run[-1] + 1)], [y(v) for v in uppers])
            back = _steps([x(i) for i in run] + [x(run[-1] + 1)], [y(v) for v in lowers])
            points = edge + list(reversed(back))
            parts.append("M" + "L".join(f"{_fmt(px)} {_fmt(py)}" for px, py in points) + "Z")
        if parts:
            areas.append(Area(band, BAND_COLOURS.get(band.name, OTHER_BAND), "".join(parts)))
    y_ticks = tuple(Tick(y(v), str(v)) for v in range(0, ceiling + 1, step))
    x_ticks = _x_ticks(drawn, slot, left)
    placed = []
    for before, label, current in markers:
        if before <= 0:  # before the first commit shown: listed under the chart only
            continue
        # The marker stands after the last drawn column that holds an earlier column.
        position = sum(1 for e in ends if e < before)
        mx = x(position)
        anchor = "end" if mx > left + 0.7 * (right - left) else "start"
        placed.append(Marker(mx, label, current, anchor))
    gaps = tuple(GapBox(x(i), slot, c.gap) for i, c in enumerate(drawn) if c.counts is None)
    return Chart(
        id=_SAFE_ID.sub("-", chart_id),
        title=title,
        desc=desc,
        areas=tuple(areas),
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        markers=tuple(placed),
        gaps=gaps,
        bands=tuple(reversed(bands.bands)),
    )


def _runs(columns: Sequence[Column]) -> list[list[int]]:
    """Indexes of the columns with counts, in runs without a gap."""
    runs: list[list[int]] = []
    current: list[int] = []
    for i, column in enumerate(columns):
        if column.counts is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append(i)
    if current:
        runs.append(current)
    return runs


def _steps(xs: Sequence[float], ys: Sequence[float]) -> list[tuple[float, float]]:
    """The corners of a step line: value ys[i] from xs[i] to xs[i + 1]; corners only
    where the value changes."""
    points = [(xs[0], ys[0])]
    for i in range(1, len(ys)):
        if ys[i] != ys[i - 1]:
            points.append((xs[i], ys[i - 1]))
            points.append((xs[i], ys[i]))
    points.append((xs[-1], ys[-1]))
    return points


def _x_ticks(columns: Sequence[Column], slot: float, left: float) -> tuple[Tick, ...]:
    """Dates under the first and last column and up to two between, never repeated."""
    if not columns:
        return ()
    count = len(columns)
    wanted = sorted({0, count - 1, *(round(count * f) for f in (1 / 3, 2 / 3))})
    ticks: list[Tick] = []
    min_gap = 110.0  # between labels, in the chart's units
    for i in wanted:
        if i >= count:
            continue
        position = left + (i + 0.5) * slot
        if ticks and (columns[i].day == ticks[-1].label or position - ticks[-1].position < min_gap):
            continue
        ticks.append(Tick(position, columns[i].day))
    right = left + slot * count
    return tuple(
        Tick(
            t.position,
            t.label,
            "start" if t.position - left < 50 else "end" if right - t.position < 50 else "middle",
        )
        for t in ticks
    )


def _day(point: TrendPoint | SitePoint) -> str:
    return point.commit.time.strftime("%Y-%m-%d")


def model_chart(trend: ModelTrend, bands: RiskBands) -> Chart:
    columns = [
        Column(p.risk.by_residual_band if p.risk else None, _day(p), p.gap or "")
        for p in trend.points
    ]
    markers = []
    for review in trend.reviews:
        before = sum(1 for p in trend.points if p.time <= review.time)
        markers.append((before, review.label, review.current))
    known = trend.known
    first, last = (known[0].risk, known[-1].risk) if known else (None, None)
    desc = f"{len(trend.points)} commits changed the model file"
    if first is not None and last is not None:
        desc += (
            f"; open threats went from {first.open_threats} to {last.open_threats}, "
            f"residual risk in sum from {first.residual_sum} to {last.residual_sum}"
        )
    gaps = len(trend.gaps)
    if gaps:
        desc += f"; {gaps} version{'s' if gaps != 1 else ''} of the file left a gap"
    return stacked_chart(
        f"tm-trend-{trend.model_id}",
        f"Open threats of {trend.title} by residual band, per commit",
        desc + ".",
        bands,
        columns,
        markers,
    )


def site_chart(points: Sequence[SitePoint], bands: RiskBands) -> Chart:
    columns = [Column(p.by_residual_band, _day(p)) for p in points]
    desc = f"{len(points)} commits changed a model"
    if points:
        desc += (
            f"; open threats of all models went from {points[0].open_threats} to "
            f"{points[-1].open_threats}"
        )
    return stacked_chart(
        "tm-trend-site",
        "Open threats of all models by residual band, per commit",
        desc + ".",
        bands,
        columns,
    )


def newest_first(items: Sequence[TrendPoint] | Sequence[SitePoint]) -> list[object]:
    """The rows of a data table: newest first, at most MAX_ROWS."""
    return list(reversed(items))[:MAX_ROWS]
