"""Site-wide views over all models: summaries, STRIDE lists, heatmap, backlog, assets.

Pure functions of the loaded models and the risk bands; the pages, the CSV and
JSON exports and the command line all read these same results.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from ..load.models import LoadedModel
from ..model import (
    Asset,
    Classification,
    Mitigation,
    MitigationStatus,
    Stride,
    Threat,
    ThreatModel,
    ThreatStatus,
)
from .links import Links
from .risk import Band, RiskBands, is_open, residual_risk
from .topology import Topology

# Work already under way sorts before work only planned, before mere proposals.
_STATUS_ORDER = {
    MitigationStatus.IN_PROGRESS: 0,
    MitigationStatus.PLANNED: 1,
    MitigationStatus.PROPOSED: 2,
    MitigationStatus.DONE: 3,
}
_CLASSIFICATION_ORDER = {c: i for i, c in enumerate(reversed(list(Classification)))}


@dataclass(frozen=True)
class ModelThreat:
    """A threat together with the model it belongs to, its band and residual risk."""

    model: ThreatModel
    threat: Threat
    band: Band
    residual: int
    residual_band: Band | None


@dataclass(frozen=True)
class BacklogItem:
    """A mitigation that is not done, with the open risk it would address."""

    model: ThreatModel
    mitigation: Mitigation
    threats: tuple[ModelThreat, ...]  # open threats it mitigates, highest risk first
    risk: int  # highest risk among those threats; 0 when none is open
    band: Band | None

    @property
    def total_risk(self) -> int:
        return sum(t.residual for t in self.threats)


@dataclass(frozen=True)
class ModelSummary:
    loaded: LoadedModel
    by_band: dict[str, int]  # open threats per band name
    by_status: dict[ThreatStatus, int]
    highest_open: ModelThreat | None

    @property
    def model(self) -> ThreatModel:
        return self.loaded.model


class ModelPart:
    """What the portfolio knows of one model alone: its links, topology, rated threats,
    summary and backlog items (in the model's order).  Made of the loaded model and the
    risk bands only, so a `PortfolioMemo` gives it again while both are the same."""

    def __init__(self, loaded: LoadedModel, bands: RiskBands) -> None:
        self.loaded = loaded
        self.bands = bands
        model = loaded.model
        self.links = Links(model)
        self.topology = Topology(model)
        self.ratings = {t.id: self._rate(model, t) for t in model.threats}

    def _rate(self, model: ThreatModel, threat: Threat) -> ModelThreat:
        done = sum(m.status is MitigationStatus.DONE for m in self.links.mitigations_of(threat))
        residual = residual_risk(threat, done)
        return ModelThreat(
            model,
            threat,
            self.bands.band_of(threat),
            residual,
            self.bands.band(residual) if residual else None,
        )

    @cached_property
    def summary(self) -> ModelSummary:
        model = self.loaded.model
        # The model's open threats in the order of `Portfolio.open_threats`.
        open_threats = sorted(
            (r for r in self.ratings.values() if is_open(r.threat)),
            key=lambda r: (-r.threat.risk, r.threat.id),
        )
        by_band = Counter(r.band.name for r in open_threats)
        by_status = Counter(t.status for t in model.threats)
        return ModelSummary(
            loaded=self.loaded,
            by_band={b.name: by_band.get(b.name, 0) for b in self.bands.bands},
            by_status={s: by_status[s] for s in ThreatStatus if by_status[s]},
            highest_open=open_threats[0] if open_threats else None,
        )

    @cached_property
    def backlog(self) -> tuple[BacklogItem, ...]:
        """The model's mitigations not yet done, in the model's order."""
        model = self.loaded.model
        items = []
        for mitigation in model.mitigations:
            if mitigation.status is MitigationStatus.DONE:
                continue
            threats = sorted(
                (self.ratings[t.id] for t in self.links.threats_of(mitigation) if is_open(t)),
                key=lambda r: (-r.residual, r.threat.id),
            )
            risk = threats[0].residual if threats else 0
            items.append(
                BacklogItem(
                    model=model,
                    mitigation=mitigation,
                    threats=tuple(threats),
                    risk=risk,
                    band=self.bands.band(risk) if risk else None,
                )
            )
        return tuple(items)


@dataclass
class PortfolioMemo:
    """Each model's `ModelPart`, kept across `mkdocs serve` rebuilds (in the analysis
    memo) while the loaded model is the same object (the load memo gives an unchanged
    file's model again: the same content and path) and the bands are equal.  Only the
    parts of the last portfolio are kept; `made` names the models whose part it made."""

    _parts: dict[str, ModelPart] = field(default_factory=dict)
    made: list[str] = field(default_factory=list)

    def parts(self, models: Sequence[LoadedModel], bands: RiskBands) -> dict[str, ModelPart]:
        self.made = []
        parts: dict[str, ModelPart] = {}
        for loaded in models:
            model_id = loaded.model.id
            earlier = self._parts.get(model_id)
            if earlier is None or earlier.loaded is not loaded or earlier.bands != bands:
                earlier = ModelPart(loaded, bands)
                self.made.append(model_id)
            parts[model_id] = earlier
        self._parts = parts
        return parts


@dataclass(frozen=True)
class Portfolio:
    models: Sequence[LoadedModel]
    bands: RiskBands = field(default_factory=RiskBands)
    # Each model's part, kept across serve rebuilds (None: every part made here).
    memo: PortfolioMemo | None = field(default=None, compare=False, repr=False)

    def model(self, model_id: str) -> ThreatModel:
        return next(m.model for m in self.models if m.model.id == model_id)

    def links(self, model: ThreatModel) -> Links:
        return self._parts[model.id].links

    def topology(self, model: ThreatModel) -> Topology:
        return self._parts[model.id].topology

    @cached_property
    def _parts(self) -> dict[str, ModelPart]:
        if self.memo is not None:
            return self.memo.parts(self.models, self.bands)
        return {m.model.id: ModelPart(m, self.bands) for m in self.models}

    def part(self, model: ThreatModel) -> ModelPart:
        """What the portfolio knows of the model alone (kept across serve rebuilds)."""
        return self._parts[model.id]

    def rated(self, model: ThreatModel, threat: Threat) -> ModelThreat:
        """The threat with its band and residual risk, computed once per threat."""
        return self._parts[model.id].ratings[threat.id]

    @cached_property
    def all_threats(self) -> list[ModelThreat]:
        """Every threat of every model, highest risk first."""
        rated = [r for part in self._parts.values() for r in part.ratings.values()]
        return sorted(rated, key=lambda r: (-r.threat.risk, r.model.id, r.threat.id))

    @cached_property
    def open_threats(self) -> list[ModelThreat]:
        return [r for r in self.all_threats if is_open(r.threat)]

    def summary(self, loaded: LoadedModel) -> ModelSummary:
        part = self._parts.get(loaded.model.id)
        if part is None or part.loaded is not loaded:  # not one of this portfolio's models
            part = ModelPart(loaded, self.bands)
        return part.summary

    @cached_property
    def summaries(self) -> list[ModelSummary]:
        """One summary per model, the model with the highest open risk first."""
        summaries = [self.summary(m) for m in self.models]
        return sorted(
            summaries,
            key=lambda s: (-(s.highest_open.threat.risk if s.highest_open else 0), s.model.id),
        )

    def by_category(self, category: Stride) -> list[ModelThreat]:
        return [r for r in self.all_threats if category in r.threat.categories]

    @cached_property
    def backlog(self) -> list[BacklogItem]:
        """Mitigations not yet done, by the highest residual risk of the open threats they address.

        Ties go to the mitigation addressing more residual risk in total, then to
        work already in progress, then by model and mitigation id.
        """
        items = [item for part in self._parts.values() for item in part.backlog]
        return sorted(
            items,
            key=lambda i: (
                -i.risk,
                -i.total_risk,
                _STATUS_ORDER[i.mitigation.status],
                i.model.id,
                i.mitigation.id,
            ),
        )

    @cached_property
    def owners(self) -> list[str]:
        """Owning services/teams of backlog items, in order of their most urgent item."""
        return list(dict.fromkeys(i.mitigation.owner for i in self.backlog))

    @cached_property
    def assets(self) -> list[tuple[ThreatModel, Asset]]:
        """Every asset of every model, most sensitive first."""
        pairs = [(m.model, a) for m in self.models for a in m.model.assets]
        return sorted(
            pairs,
            key=lambda p: (_CLASSIFICATION_ORDER[p[1].classification], p[0].id, p[1].id),
        )
