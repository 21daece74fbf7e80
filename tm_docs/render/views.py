"""What the pages show, decided once: rows, orderings and small charts.

Templates only lay out what this module computes from a `Report`.  Every risk
shown on a page comes from here with its kind (inherent or residual), and
every ordering by risk goes through `analysis.risk.by_residual_risk`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ..analysis.portfolio import BacklogItem, ModelSummary, ModelThreat, Portfolio
from ..analysis.report import Report
from ..analysis.risk import Band, RiskBands, by_residual_risk, is_closed
from ..analysis.topology import Topology
from ..dfd.icons import icon_for
from ..model import (
    ComponentKind,
    Mitigation,
    MitigationStatus,
    Stride,
    Threat,
    ThreatModel,
    TrustLevel,
)


@dataclass(frozen=True)
class ThreatRow:
    """A threat as the pages list it: both risks, whether it is closed, its mitigations."""

    rated: ModelThreat
    mitigations: tuple[Mitigation, ...]

    @property
    def threat(self) -> Threat:
        return self.rated.threat

    @property
    def closed(self) -> bool:
        return is_closed(self.rated.threat)

    @property
    def next_mitigation(self) -> Mitigation | None:
        """The mitigation to work on next: in progress, then planned, then proposed."""
        order = {
            MitigationStatus.IN_PROGRESS: 0,
            MitigationStatus.PLANNED: 1,
            MitigationStatus.PROPOSED: 2,
        }
        pending = [m for m in self.mitigations if m.status in order]
        return min(pending, key=lambda m: (order[m.status], m.id)) if pending else None


def _sorted(rows: list[ThreatRow]) -> list[ThreatRow]:
    return sorted(
        rows,
        key=lambda r: by_residual_risk(r.rated.residual, r.rated.threat.risk, r.rated.threat.id),
    )


@dataclass(frozen=True)
class LegendView:
    """What one diagram draws, so its legend names exactly that."""

    shapes: tuple[str, ...]  # component kinds drawn as shapes
    icons: tuple[str, ...]  # technologies drawn as icons
    trust: tuple[str, ...]  # trust levels of its boundaries
    ingress: bool
    crossing: bool
    weak: bool
    plain: bool
    risk: bool


_SHAPES = {
    ComponentKind.EXTERNAL_ENTITY: "box: external entity",
    ComponentKind.PROCESS: "ellipse: process",
    ComponentKind.DATA_STORE: "cylinder: data store",
    ComponentKind.QUEUE: "tag: queue",
}


def legend(model: ThreatModel, topology: Topology, bands: RiskBands) -> LegendView:
    shapes = [c.kind for c in model.components if icon_for(c.technology) is None]
    icons = [c.technology or "" for c in model.components if icon_for(c.technology) is not None]
    weak = False
    for flow in model.flows:
        if topology.crosses_boundary(flow):
            auth = flow.authentication
            unauthenticated = auth is not None and auth.method.value == "none"
            weak = weak or flow.encrypted is False or unauthenticated
    risky = any(
        not is_closed(t) and bands.band_of(t).name in ("high", "critical") for t in model.threats
    )
    return LegendView(
        shapes=tuple(_SHAPES[k] for k in ComponentKind if k in shapes),
        icons=tuple(dict.fromkeys(icons)),
        trust=tuple(t.value for t in TrustLevel if any(b.trust is t for b in model.boundaries)),
        ingress=any(topology.is_ingress(f) for f in model.flows),
        crossing=any(
            topology.crosses_boundary(f) and not topology.is_ingress(f) for f in model.flows
        ),
        weak=weak,
        plain=any(not topology.crosses_boundary(f) for f in model.flows),
        risk=risky,
    )


@dataclass(frozen=True)
class ModelView:
    """The facts a model page leads with."""

    portfolio: Portfolio
    summary: ModelSummary

    @property
    def model(self) -> ThreatModel:
        return self.summary.model

    @cached_property
    def threats(self) -> list[ThreatRow]:
        links = self.portfolio.links(self.model)
        rows = [
            ThreatRow(self.portfolio.rated(self.model, t), tuple(links.mitigations_of(t)))
            for t in self.model.threats
        ]
        return _sorted(rows)

    @property
    def open_threats(self) -> list[ThreatRow]:
        return [r for r in self.threats if not r.closed]

    @property
    def closed_threats(self) -> list[ThreatRow]:
        return [r for r in self.threats if r.closed]

    @property
    def open_by_residual_band(self) -> list[tuple[Band, int]]:
        bands = self.portfolio.bands.bands
        counts = {b.name: 0 for b in bands}
        for row in self.open_threats:
            if row.rated.residual_band is not None:
                counts[row.rated.residual_band.name] += 1
        return [(b, counts[b.name]) for b in reversed(bands)]

    @property
    def highest(self) -> ThreatRow | None:
        return self.open_threats[0] if self.open_threats else None


@dataclass(frozen=True)
class OverviewRow:
    summary: ModelSummary
    view: ModelView
    coverage: int
    untriaged: int
    chart: BandChart

    @property
    def highest_residual(self) -> int:
        top = self.view.highest
        return top.rated.residual if top else 0


@dataclass(frozen=True)
class ChartPart:
    band: str
    x: float  # per cent of the bar's width
    width: float


@dataclass(frozen=True)
class BandChart:
    """A stacked bar of open threats per band; the template draws it as inline SVG."""

    label: str
    parts: tuple[ChartPart, ...]


def band_chart(counts: list[tuple[Band, int]], label: str) -> BandChart:
    total = sum(n for _, n in counts)
    parts, x = [], 0.0
    for band, n in counts:
        if n:
            width = round(100 * n / total, 2)
            parts.append(ChartPart(band.name, round(x, 2), width))
            x += width
    return BandChart(label, tuple(parts))


@dataclass(frozen=True)
class HeatCell:
    impact: int
    likelihood: int
    band: Band
    threats: tuple[ModelThreat, ...]


@dataclass(frozen=True)
class SiteView:
    report: Report

    @property
    def portfolio(self) -> Portfolio:
        return self.report.portfolio

    @cached_property
    def models(self) -> dict[str, ModelView]:
        return {s.model.id: ModelView(self.portfolio, s) for s in self.portfolio.summaries}

    @cached_property
    def overview(self) -> list[OverviewRow]:
        """Models by their highest open residual risk; among equals, the one with more open
        threats in the highest bands first (critical, then high, ...), then by title."""
        rows = []
        for summary in self.portfolio.summaries:
            view = self.models[summary.model.id]
            counts = view.open_by_residual_band
            label = ", ".join(f"{n} {b.name}" for b, n in counts if n) or "no open threats"
            analysis = self.report.of(summary.model)
            rows.append(
                OverviewRow(
                    summary,
                    view,
                    analysis.coverage.percent,
                    len(analysis.untriaged),
                    band_chart(counts, f"Open threats by residual risk: {label}"),
                )
            )
        return sorted(
            rows,
            key=lambda r: (
                -r.highest_residual,
                [-n for _, n in r.view.open_by_residual_band],
                r.summary.model.title.lower(),
            ),
        )

    def heatmap(self, residual: bool) -> list[list[HeatCell]]:
        """Rows of cells, impact 5 at the top; residual places threats by what is left."""
        cells: dict[tuple[int, int], list[ModelThreat]] = {
            (i, j): [] for i in range(1, 6) for j in range(1, 6)
        }
        for rated in self.portfolio.open_threats:
            impact, likelihood = rated.threat.impact, rated.threat.likelihood
            if residual:
                if not rated.residual:
                    continue
                likelihood = rated.residual // impact
            cells[(impact, likelihood)].append(rated)
        bands = self.portfolio.bands
        return [
            [
                HeatCell(
                    i,
                    j,
                    bands.band(i * j),
                    tuple(
                        sorted(
                            cells[(i, j)],
                            key=lambda r: by_residual_risk(r.residual, r.threat.risk, r.threat.id),
                        )
                    ),
                )
                for j in range(1, 6)
            ]
            for i in range(5, 0, -1)
        ]

    @cached_property
    def backlog(self) -> list[BacklogItem]:
        return list(self.portfolio.backlog)

    @cached_property
    def stride(self) -> list[tuple[Stride, list[ModelThreat], list[ModelThreat]]]:
        """Per category: open threats and closed ones, each by residual risk."""
        result = []
        for category in Stride:
            rated = sorted(
                self.portfolio.by_category(category),
                key=lambda r: by_residual_risk(r.residual, r.threat.risk, r.threat.id),
            )
            result.append(
                (
                    category,
                    [r for r in rated if not is_closed(r.threat)],
                    [r for r in rated if is_closed(r.threat)],
                )
            )
        return result

    def asset_threats(self, model: ThreatModel, asset_id: str) -> list[ModelThreat]:
        """Threats on an asset, on the components it lives in or the flows that carry it."""
        asset = next(a for a in model.assets if a.id == asset_id)
        places = {asset.id, *asset.location}
        places.update(f.id for f in model.flows if asset.id in f.data)
        rated = [self.portfolio.rated(model, t) for t in model.threats if places & set(t.targets)]
        return sorted(rated, key=lambda r: by_residual_risk(r.residual, r.threat.risk, r.threat.id))
