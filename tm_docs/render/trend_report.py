"""The risk trend as the command line prints it: a terminal table, CSV and JSON.

Commit subjects, authors and model titles come from pull requests: the table
goes through the terminal escape; CSV text goes through it too (a CSV is read
in terminals and CI logs as often as in spreadsheets) and its cells are
defused for spreadsheets; JSON strings are escaped by `json_text`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from typing import Any

from ..analysis.risk import RiskBands
from ..analysis.trend import ModelTrend, RiskPoint, SitePoint, TrendPoint, Trends
from .exports import spreadsheet_cell
from .json_text import dumps
from .terminal import one_line


def _band_names(bands: RiskBands) -> list[str]:
    return [b.name for b in reversed(bands.bands)]  # critical first


def as_text(
    trends: Sequence[ModelTrend], bands: RiskBands, since: dt.date | None = None
) -> list[str]:
    names = _band_names(bands)
    header = (
        f"{'date':10}  {'commit':10}  {' '.join(f'{n[:4]:>4}' for n in names)}  "
        f"{'residual':>13}  {'inherent':>13}  {'cover':>5}  {'sugg':>4}  change"
    )
    lines = []
    for trend in trends:
        lines.append(one_line(f"{trend.model_id}: {trend.title}"))
        if trend.unknown:
            lines.append("    " + one_line(f"unknown: {trend.unknown}"))
            continue
        if not trend.points:
            if since is not None:
                lines.append(f"    no commit changed the model file since {since.isoformat()}")
            else:
                lines.append("    no committed version of the model file yet")
            continue
        lines.append("    " + header)
        for point in trend.points:
            lines.append("    " + _text_row(point, names))
        if trend.reviews:
            lines.append("    reviews:")
        for review in sorted(trend.reviews, key=lambda r: r.time):
            lines.append("    " + one_line(f"{review.time.date().isoformat()}  {review.label}"))
    return lines


def _text_row(point: TrendPoint, names: Sequence[str]) -> str:
    start = f"{point.time.strftime('%Y-%m-%d')}  {point.commit.short}  "
    change = f"{point.commit.author}: {point.commit.subject}"
    risk = point.risk
    if risk is None:
        return one_line(f"{start}gap: {point.gap}  ({change})")
    counts = " ".join(f"{risk.by_residual_band.get(n, 0):>4}" for n in names)
    residual = f"{risk.residual_sum} (max {risk.residual_max})"
    inherent = f"{risk.inherent_sum} (max {risk.inherent_max})"
    return one_line(
        f"{start}{counts}  {residual:>13}  {inherent:>13}  {risk.coverage:>4}%  "
        f"{risk.untriaged:>4}  {change}"
    )


def csv_columns(bands: RiskBands) -> list[str]:
    names = _band_names(bands)
    return [
        "model",
        "date",
        "commit",
        "path",
        "open",
        *(f"residual_{n}" for n in names),
        *(f"inherent_{n}" for n in names),
        "residual_sum",
        "residual_max",
        "inherent_sum",
        "inherent_max",
        "coverage",
        "not_analysed",
        "untriaged",
        "gap",
        "author",
        "subject",
    ]


def as_csv(trends: Sequence[ModelTrend], bands: RiskBands) -> str:
    """One row per model and commit; a gap has empty numbers and says why."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = csv_columns(bands)
    writer.writerow(columns)
    for trend in trends:
        for point in trend.points:
            row = {
                "model": trend.model_id,
                "date": point.time.isoformat(),
                "commit": point.commit.sha,
                "path": one_line(point.path),
                "gap": one_line(point.gap or ""),
                "author": one_line(point.commit.author),
                "subject": one_line(point.commit.subject),
                **(_numbers(point.risk, bands) if point.risk else {}),
            }
            writer.writerow([spreadsheet_cell(row.get(c)) for c in columns])
    return out.getvalue()


def _numbers(risk: RiskPoint, bands: RiskBands) -> dict[str, Any]:
    names = _band_names(bands)
    return {
        "open": risk.open_threats,
        **{f"residual_{n}": risk.by_residual_band.get(n, 0) for n in names},
        **{f"inherent_{n}": risk.by_band.get(n, 0) for n in names},
        "residual_sum": risk.residual_sum,
        "residual_max": risk.residual_max,
        "inherent_sum": risk.inherent_sum,
        "inherent_max": risk.inherent_max,
        "coverage": risk.coverage,
        "not_analysed": risk.not_analysed,
        "untriaged": risk.untriaged,
    }


def as_json(trends: Trends, chosen: Sequence[ModelTrend], bands: RiskBands) -> str:
    bands_data = [{"name": b.name, "min": b.low, "max": b.high} for b in bands.bands]
    document = {
        "bands": bands_data,
        "unknown": trends.unknown,
        "models": [_model(t, bands) for t in chosen],
        "site": [_site(p) for p in trends.site],
    }
    return dumps(document) + "\n"


def _model(trend: ModelTrend, bands: RiskBands) -> dict[str, Any]:
    return {
        "id": trend.model_id,
        "title": trend.title,
        "unknown": trend.unknown,
        "points": [
            {
                "date": p.time.isoformat(),
                "commit": p.commit.sha,
                "author": p.commit.author,
                "subject": p.commit.subject,
                "path": p.path,
                "gap": p.gap,
                "risk": (
                    {
                        **_numbers(p.risk, bands),
                        "by_band": dict(p.risk.by_band),
                        "by_residual_band": dict(p.risk.by_residual_band),
                    }
                    if p.risk
                    else None
                ),
            }
            for p in trend.points
        ],
        "reviews": [
            {"date": r.time.isoformat(), "label": r.label, "current": r.current}
            for r in trend.reviews
        ],
    }


def _site(point: SitePoint) -> dict[str, Any]:
    return {
        "date": point.commit.time.isoformat(),
        "commit": point.commit.sha,
        "models": point.models,
        "open": point.open_threats,
        "by_residual_band": dict(point.by_residual_band),
        "residual_sum": point.residual_sum,
        "changed": list(point.changed),
    }
