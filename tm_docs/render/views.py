"""What the pages show, decided once: rows, orderings and small charts.

Templates only lay out what this module computes from a `Report`.  Every risk
shown on a page comes from here with its kind (inherent or residual), and
every ordering by risk goes through `analysis.risk.by_residual_risk`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Generic, TypeVar

from markupsafe import Markup

from ..analysis.portfolio import BacklogItem, ModelPart, ModelSummary, ModelThreat, Portfolio
from ..analysis.report import ModelReport, Report
from ..analysis.risk import Band, RiskBands, by_residual_risk, is_closed, is_open
from ..analysis.suggest import Suggestion
from ..analysis.topology import Topology
from ..dfd.icons import icon_for
from ..model import (
    Asset,
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
    """The facts a model page leads with, and its rows on the site-wide pages.

    Made of the model's part of the portfolio alone (`ModelPart`: its links, ratings and
    bands), so a `mkdocs serve` rebuild that keeps the part keeps the view too, with
    whatever it worked out (`SiteView`'s `earlier`)."""

    part: ModelPart

    @property
    def summary(self) -> ModelSummary:
        return self.part.summary

    @property
    def model(self) -> ThreatModel:
        return self.part.loaded.model

    @cached_property
    def threats(self) -> list[ThreatRow]:
        links, ratings = self.part.links, self.part.ratings
        rows = [
            ThreatRow(ratings[t.id], tuple(links.mitigations_of(t))) for t in self.model.threats
        ]
        return _sorted(rows)

    @cached_property
    def assets(self) -> dict[str, AssetRow]:
        """Each asset of the model (by id) with its threats: those on the asset, on the
        components it lives in or on the flows that carry it, highest residual risk first."""
        model, ratings = self.model, self.part.ratings
        rows = {}
        for asset in model.assets:
            places = {asset.id, *asset.location}
            places.update(f.id for f in model.flows if asset.id in f.data)
            rated = sorted(
                (ratings[t.id] for t in model.threats if places & set(t.targets)),
                key=lambda r: by_residual_risk(r.residual, r.threat.risk, r.threat.id),
            )
            rows[asset.id] = AssetRow(model, asset, tuple(rated))
        return rows

    @cached_property
    def open_threats(self) -> list[ThreatRow]:
        return [r for r in self.threats if not r.closed]

    @cached_property
    def closed_threats(self) -> list[ThreatRow]:
        return [r for r in self.threats if r.closed]

    @cached_property
    def open_by_residual_band(self) -> list[tuple[Band, int]]:
        bands = self.part.bands.bands
        counts = {b.name: 0 for b in bands}
        for row in self.open_threats:
            if row.rated.residual_band is not None:
                counts[row.rated.residual_band.name] += 1
        return [(b, counts[b.name]) for b in reversed(bands)]

    @cached_property
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

    @property
    def by_owner(self) -> list[tuple[str, str, int]]:
        """(owner, its pages' slug, threats) of the models in this cell, most threats first."""
        counts: dict[str, int] = {}
        for rated in self.threats:
            counts[rated.model.owner] = counts.get(rated.model.owner, 0) + 1
        ordered = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
        return [(owner, owner_slug(owner), n) for owner, n in ordered]


@dataclass(frozen=True)
class SiteView:
    report: Report
    # The model views of the last build (a `mkdocs serve` rebuild): a model whose part of
    # the portfolio is the same object keeps its view.
    earlier: Mapping[str, ModelView] | None = field(default=None, compare=False, repr=False)

    @property
    def portfolio(self) -> Portfolio:
        return self.report.portfolio

    @cached_property
    def models(self) -> dict[str, ModelView]:
        earlier = self.earlier or {}
        views = {}
        for summary in self.portfolio.summaries:
            part = self.portfolio.part(summary.model)
            view = earlier.get(summary.model.id)
            views[summary.model.id] = (
                view if view is not None and view.part is part else ModelView(part)
            )
        return views

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

    def heatmap(self, residual: bool, owner: OwnerGroup | None = None) -> list[list[HeatCell]]:
        """Rows of cells, impact 5 at the top; residual places threats by what is left.
        With `owner`, only the threats of that owner's models."""
        cells: dict[tuple[int, int], list[ModelThreat]] = {
            (i, j): [] for i in range(1, 6) for j in range(1, 6)
        }
        for rated in owner.open_threats if owner else self.portfolio.open_threats:
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
        return self.stride_of(None)

    def stride_of(
        self, owner: OwnerGroup | None
    ) -> list[tuple[Stride, list[ModelThreat], list[ModelThreat]]]:
        """`stride`, of one owner's models only when `owner` is given."""
        models = {m.id for m in owner.models} if owner else None
        result = []
        for category in Stride:
            rated = sorted(
                (
                    r
                    for r in self.portfolio.by_category(category)
                    if models is None or r.model.id in models
                ),
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

    @cached_property
    def assets(self) -> list[AssetRow]:
        """Every asset of every model, most sensitive first, with its threats."""
        return [self.models[model.id].assets[asset.id] for model, asset in self.portfolio.assets]

    # --- large portfolios: a summary on top, then one page per owner --------

    @property
    def split(self) -> bool:
        """Whether the site-wide pages open with a summary and list the rest per owner."""
        threshold = self.report.settings.owner_pages_from
        return bool(threshold) and len(self.portfolio.models) >= threshold

    @cached_property
    def owners(self) -> list[OwnerGroup]:
        """Every owner of a model or of a mitigation to do: the one with the most urgent
        backlog item first, then by the highest open residual risk of its models, then by
        name."""
        backlog: dict[str, list[BacklogItem]] = {}
        for item in self.backlog:
            backlog.setdefault(item.mitigation.owner, []).append(item)
        models: dict[str, list[ThreatModel]] = {}
        for loaded in self.portfolio.models:
            models.setdefault(loaded.model.owner, []).append(loaded.model)
        threats: dict[str, list[ModelThreat]] = {}
        for rated in self.portfolio.open_threats:
            threats.setdefault(rated.model.owner, []).append(rated)
        assets: dict[str, list[AssetRow]] = {}
        for row in self.assets:
            assets.setdefault(row.model.owner, []).append(row)
        groups = [
            OwnerGroup(
                owner,
                owner_slug(owner),
                tuple(backlog.get(owner, ())),
                tuple(sorted(models.get(owner, ()), key=lambda m: (m.title.lower(), m.id))),
                tuple(
                    sorted(
                        threats.get(owner, ()),
                        key=lambda r: by_residual_risk(r.residual, r.threat.risk, r.threat.id),
                    )
                ),
                tuple(assets.get(owner, ())),
            )
            for owner in {*backlog, *models}
        ]

        def urgency(group: OwnerGroup) -> tuple[int, int, str]:
            item = group.highest_backlog
            top = group.highest_threat
            return (-(item.risk if item else 0), -(top.residual if top else 0), group.owner)

        return sorted(groups, key=urgency)

    @cached_property
    def _owners_by_name(self) -> dict[str, OwnerGroup]:
        return {g.owner: g for g in self.owners}

    def owner(self, name: str) -> OwnerGroup:
        return self._owners_by_name[name]

    @property
    def backlog_owners(self) -> list[OwnerGroup]:
        """Owners with mitigations to do, in the order of their most urgent one."""
        return [g for g in self.owners if g.backlog]

    @property
    def model_owners(self) -> list[OwnerGroup]:
        """Owners of models, by the highest open residual risk of their models."""
        groups = [g for g in self.owners if g.models]
        return sorted(
            groups,
            key=lambda g: (
                -(g.highest_threat.residual if g.highest_threat else 0),
                -len(g.open_threats),
                g.owner,
            ),
        )

    def untriaged_of(self, owner: OwnerGroup | None) -> list[tuple[ThreatModel, Suggestion]]:
        """`untriaged`, of one owner's models only when `owner` is given."""
        pending = [
            (r.model, s) for r in self.coverage_of(owner, ordered=False) for s in r.untriaged
        ]
        return sorted(pending, key=lambda pair: pair[1].risk, reverse=True)

    def coverage_of(self, owner: OwnerGroup | None, ordered: bool = True) -> list[ModelReport]:
        """The models' analyses, least analysed first (with `owner`, of its models only)."""
        models = {m.id for m in owner.models} if owner else None
        reports = [r for r in self.report.models if models is None or r.model.id in models]
        return sorted(reports, key=lambda r: r.coverage.percent) if ordered else reports

    @cached_property
    def coverage_owners(self) -> list[tuple[OwnerGroup, ModelReport, int]]:
        """Owners of models with their least analysed model and their untriaged suggestions,
        the owner of the least analysed model first."""
        rows = [(g, self.coverage_of(g)[0], len(self.untriaged_of(g))) for g in self.model_owners]
        return sorted(rows, key=lambda row: (row[1].coverage.percent, -row[2], row[0].owner))

    @property
    def top_backlog(self) -> list[BacklogItem]:
        """The mitigations to do first, across the portfolio."""
        return self.backlog_parts(None).first

    def backlog_parts(self, owner: OwnerGroup | None) -> Parts[BacklogItem]:
        """The backlog (of one owner when given) as a long page shows it: the most urgent
        rows that still leave a risk, then the other ones with a risk, then those whose
        threats are all closed."""
        items = list(owner.backlog) if owner else self.backlog
        first, more = lead([i for i in items if i.risk])
        return Parts(first, more, [i for i in items if not i.risk])

    @cached_property
    def top_threats(self) -> list[ModelThreat]:
        """The open threats with the highest residual risk, across the portfolio."""
        return self.top_threats_of(None)

    def top_threats_of(self, owner: OwnerGroup | None) -> list[ModelThreat]:
        """The open threats with the highest residual risk (of one owner's models when
        given)."""
        rated = owner.open_threats if owner else self.portfolio.open_threats
        ordered = sorted(
            (r for r in rated if r.residual),
            key=lambda r: by_residual_risk(r.residual, r.threat.risk, r.threat.id),
        )
        return lead(ordered)[0]

    @cached_property
    def top_assets(self) -> list[AssetRow]:
        """The assets under the highest open residual risk, across the portfolio."""
        return self.top_assets_of(None)

    def top_assets_of(self, owner: OwnerGroup | None) -> list[AssetRow]:
        """The assets under the highest open residual risk (of one owner's models when
        given); among equals, the more sensitive first."""
        rows = owner.assets if owner else self.assets
        return lead(sorted((a for a in rows if a.highest_open is not None), key=_asset_urgency))[0]

    def lead(self, rows: Sequence[T]) -> tuple[list[T], list[T]]:
        """`lead`, for templates."""
        return lead(rows)

    @cached_property
    def _ranks(self) -> dict[tuple[str, str], int]:
        return {(i.model.id, i.mitigation.id): n for n, i in enumerate(self.backlog, 1)}

    @cached_property
    def _titles(self) -> dict[str, tuple[ThreatModel, dict[str, tuple[str, str]]]]:
        return {}

    def element_titles(self, model: ThreatModel) -> dict[str, tuple[str, str]]:
        """Element id -> (anchor kind, title) for everything a threat of `model` can target
        (ids are unique across a model's elements); made once a model, for its page and for
        the site-wide rows of its threats."""
        made = self._titles.get(model.id)
        if made is None or made[0] is not model:
            titles = {c.id: ("component", c.title) for c in model.components}
            titles.update({f.id: ("flow", f.title or f.id) for f in model.flows})
            titles.update({a.id: ("asset", a.title) for a in model.assets})
            made = self._titles[model.id] = (model, titles)
        return made[1]

    def rank(self, item: BacklogItem) -> int:
        """An item's place in the whole backlog, which an owner's page keeps."""
        return self._ranks[(item.model.id, item.mitigation.id)]

    def backlog_page(self, owner: str) -> str:
        """The site page (as `SiteLayout.page` names it) that lists an owner's backlog rows."""
        return f"backlog/{owner_slug(owner)}" if self.split else "backlog"

    def backlog_row_page(self, model: ThreatModel, mitigation: Mitigation) -> str | None:
        """The site page that holds a mitigation's backlog row; None when the backlog does
        not list it (the portfolio decides which mitigations are open work)."""
        if (model.id, mitigation.id) not in self._ranks:
            return None
        return self.backlog_page(mitigation.owner)


_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

# How many rows the summary on top of a split site-wide page shows, and how many of a
# mitigation's threats each of its backlog rows lists there.
SUMMARY_ROWS = 10
SHORT_LIST = 3

T = TypeVar("T")


def lead(rows: Sequence[T]) -> tuple[list[T], list[T]]:
    """A long list's first rows, which a page shows, and the rest, which it keeps behind a
    toggle (an owner's page at hundreds of models would otherwise run to metres)."""
    return list(rows[:SUMMARY_ROWS]), list(rows[SUMMARY_ROWS:])


@dataclass(frozen=True)
class Parts(Generic[T]):
    """A list in three parts: shown first, more of the same behind a toggle, and the
    rows with nothing left to do behind another."""

    first: list[T]
    more: list[T]
    closed: list[T]


def owner_slug(owner: str) -> str:
    """The file name of an owner's pages: letters, digits and '-', the same for the same
    owner on every build, whatever the other owners are called.

    An owner written as a clean slug ('team-payments') keeps it; any other name gets a
    short hash of the name added, so that 'Team A' and 'team a' never share a page.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", owner.lower()).strip("-")[:40].strip("-")
    if slug == owner and slug != "index":
        return slug
    digest = hashlib.sha256(owner.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}" if slug else f"owner-{digest}"


def backlog_anchor(model: ThreatModel, mitigation: Mitigation) -> Markup:
    """The HTML id of a mitigation's row on the backlog, e.g. 'backlog-checkout_M-1'.

    Model ids hold no '_', so the id names one row; both ids are restricted to letters,
    digits, '-' and '_' by the format, so it goes into ids and link targets as it is.
    """
    text = f"backlog-{model.id}_{mitigation.id}"
    if not _SAFE_ID.match(text):
        raise ValueError(f"unsafe backlog anchor {text!r}")
    return Markup(text)


@dataclass(frozen=True)
class AssetRow:
    """An asset on the inventory, with the threats against it, highest residual risk first."""

    model: ThreatModel
    asset: Asset
    threats: tuple[ModelThreat, ...]

    @property
    def highest_open(self) -> ModelThreat | None:
        """The open threat with the highest residual risk, if any is left."""
        return next((r for r in self.threats if r.residual and is_open(r.threat)), None)


@dataclass(frozen=True)
class OwnerGroup:
    """What one owner (service team) has on a site-wide page: its own page when split."""

    owner: str
    slug: str
    backlog: tuple[BacklogItem, ...]  # mitigations this owner does
    models: tuple[ThreatModel, ...]  # models this owner owns
    open_threats: tuple[ModelThreat, ...]  # of those models, highest residual first
    assets: tuple[AssetRow, ...]  # of those models, most sensitive first

    @property
    def highest_backlog(self) -> BacklogItem | None:
        return self.backlog[0] if self.backlog else None

    @property
    def highest_threat(self) -> ModelThreat | None:
        return self.open_threats[0] if self.open_threats else None

    @property
    def highest_asset(self) -> AssetRow | None:
        exposed = [a for a in self.assets if a.highest_open is not None]
        return min(exposed, key=_asset_urgency) if exposed else None


def _asset_urgency(row: AssetRow) -> tuple[int, int, str, str]:
    top = row.highest_open
    residual = top.residual if top else 0
    order = list(type(row.asset.classification))
    return (-residual, -order.index(row.asset.classification), row.model.id, row.asset.id)
