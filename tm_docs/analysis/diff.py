"""What a change does to the threat models: a semantic diff of two sets of models.

Pure: the models of both sides come in (read by load/revisions.py), the diff
comes out — by element id, field by field, naming what a reviewer cares about
first: new open high or critical risks, boundary-crossing flows that lost
authentication or encryption, new ingress points, suggested threats introduced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from ..load.revisions import Snapshot
from ..model import COLLECTIONS, AuthMethod, Flow, ThreatModel
from ..problems import Problem
from .globs import matches_any
from .risk import RiskBands, is_open
from .rules import Rule
from .staleness import watched
from .suggest import Triage, suggestions
from .topology import Topology


@dataclass(frozen=True)
class Change:
    """One element added, removed or changed."""

    action: str  # added, removed, changed
    kind: str  # boundary, component, flow, asset, threat, mitigation
    id: str
    title: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class RiskRise:
    """An open threat that is new, newly open, or riskier than before."""

    threat_id: str
    title: str
    risk: int
    band: str
    was: int | None  # the earlier open risk; None when it was not open before

    def __str__(self) -> str:
        before = f"was {self.was}" if self.was is not None else "new"
        return f"{self.threat_id} {self.title}: {self.risk} {self.band} ({before})"


@dataclass
class ModelDiff:
    model_id: str
    title: str
    status: str  # added, removed, renamed, changed, unchanged, invalid
    old_path: str | None = None
    new_path: str | None = None
    changes: list[Change] = field(default_factory=list)
    risk_rises: list[RiskRise] = field(default_factory=list)
    weakened: list[str] = field(default_factory=list)  # crossing flows that lost protection
    new_ingress: list[str] = field(default_factory=list)
    new_crossings: list[str] = field(default_factory=list)
    suggestions_added: list[str] = field(default_factory=list)
    suggestion_risks: dict[str, int] = field(default_factory=dict)  # added key -> default risk
    suggestions_removed: list[str] = field(default_factory=list)


@dataclass
class ReviewResult:
    base: str
    head: str
    models: list[ModelDiff]
    stale: dict[str, list[str]]  # model id -> files changed that it watches
    problems: tuple[Problem, ...] = ()
    headline_from: int = 10  # lowest risk that makes the headline (the high band)
    # The two sides, for drawing them (not part of the reported diff).
    before: Snapshot | None = field(default=None, repr=False, compare=False)
    after: Snapshot | None = field(default=None, repr=False, compare=False)

    @property
    def changed(self) -> list[ModelDiff]:
        return [m for m in self.models if m.status != "unchanged"]


def _label(item: Any) -> str:
    return str(getattr(item, "title", None) or item.id)


def _value(value: Any) -> str:
    if isinstance(value, BaseModel):  # a nested part such as a flow's authentication
        return _value({k: v for k, v in value if v not in (None, [], "")})
    if hasattr(value, "value"):
        return str(value.value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    if value is None:
        return "not set"
    return str(value)


def _fields(old: Any, new: Any) -> list[str]:
    before, after = old.model_dump(), new.model_dump()
    details = []
    for name in type(new).model_fields:
        if before.get(name) == after.get(name) or name == "id":
            continue
        if name == "description" or name == "note":
            details.append(f"{name} changed")
        elif name == "controls":
            # What an auditor asks: which controls a mitigation now claims, which it dropped.
            was, now = getattr(old, name), getattr(new, name)
            added = [c for c in now if c not in was]
            removed = [c for c in was if c not in now]
            if added:
                details.append(f"controls added: {', '.join(added)}")
            if removed:
                details.append(f"controls removed: {', '.join(removed)}")
        elif isinstance(getattr(old, name), BaseModel) and isinstance(
            getattr(new, name), BaseModel
        ):
            details += [f"{name}.{d}" for d in _fields(getattr(old, name), getattr(new, name))]
        else:
            details.append(f"{name}: {_value(getattr(old, name))} → {_value(getattr(new, name))}")
    return details


def _protection(flow: Flow) -> tuple[bool, bool]:
    """(authenticated, encrypted) as recorded."""
    auth = flow.authentication
    return (auth is not None and auth.method is not AuthMethod.NONE, flow.encrypted is True)


def diff_models(
    old: ThreatModel | None,
    new: ThreatModel | None,
    bands: RiskBands,
    rules: Sequence[Rule] = (),
) -> ModelDiff:
    model = new or old
    assert model is not None
    result = ModelDiff(model.id, model.title, "changed")
    if old is None or new is None:
        result.status = "added" if old is None else "removed"
    old_topology = Topology(old) if old else None
    new_topology = Topology(new) if new else None
    if old is not None and new is not None:
        # The model's own tags and attributes (its elements' are compared below).
        details = [
            f"{name}: {_value(getattr(old, name))} → {_value(getattr(new, name))}"
            for name in ("tags", "attributes")
            if getattr(old, name) != getattr(new, name)
        ]
        if details:
            result.changes.append(Change("changed", "model", new.id, new.title, tuple(details)))
    for collection, (noun, _) in COLLECTIONS.items():
        before = {item.id: item for item in getattr(old, collection, [])} if old else {}
        after = {item.id: item for item in getattr(new, collection, [])} if new else {}
        for item_id, item in after.items():
            if item_id not in before:
                result.changes.append(Change("added", noun, item_id, _label(item)))
            elif before[item_id] != item:
                details = _fields(before[item_id], item)
                result.changes.append(
                    Change("changed", noun, item_id, _label(item), tuple(details))
                )
        for item_id, item in before.items():
            if item_id not in after:
                result.changes.append(Change("removed", noun, item_id, _label(item)))
    if new is not None and new_topology is not None:
        old_threats = {t.id: t for t in old.threats} if old else {}
        for threat in new.threats:
            if not is_open(threat):
                continue
            earlier = old_threats.get(threat.id)
            was = earlier.risk if earlier is not None and is_open(earlier) else None
            if was is None or threat.risk > was:
                band = bands.band_of(threat).name
                result.risk_rises.append(RiskRise(threat.id, threat.title, threat.risk, band, was))
        old_flows = {f.id: f for f in old.flows} if old else {}
        for flow in new.flows:
            previous = old_flows.get(flow.id)
            crossing = new_topology.crosses_boundary(flow)
            if previous is not None and crossing:
                (had_auth, had_enc), (has_auth, has_enc) = _protection(previous), _protection(flow)
                lost = [
                    w
                    for w, h, n in (
                        ("authentication", had_auth, has_auth),
                        ("encryption", had_enc, has_enc),
                    )
                    if h and not n
                ]
                if lost:
                    result.weakened.append(f"{flow.id}: lost {' and '.join(lost)}")
            if new_topology.is_ingress(flow) and (
                previous is None or old_topology is None or not old_topology.is_ingress(previous)
            ):
                auth = flow.authentication.method.value if flow.authentication else "not recorded"
                result.new_ingress.append(
                    f"{flow.id}: {flow.source} → {flow.destination} (authentication: {auth})"
                )
            elif previous is None and crossing:
                result.new_crossings.append(
                    f"{flow.id}: {flow.source} → {flow.destination} crosses "
                    + ", ".join(new_topology.crossed(flow))
                )
    if rules:

        def pending(model: ThreatModel | None) -> dict[str, int]:
            if model is None:
                return {}
            found = suggestions(model, rules)
            return {s.key: s.risk for s in found if s.triage is Triage.UNTRIAGED}

        before_keys, after_risks = set(pending(old)), pending(new)
        after_keys = set(after_risks)
        result.suggestions_added = sorted(after_keys - before_keys)
        result.suggestion_risks = {k: after_risks[k] for k in result.suggestions_added}
        result.suggestions_removed = sorted(before_keys - after_keys)
    if result.status == "changed" and not (
        result.changes or result.suggestions_added or result.suggestions_removed
    ):
        result.status = "unchanged"
    return result


def compare(
    before: Snapshot,
    after: Snapshot,
    changed: Sequence[str],
    bands: RiskBands,
    rules: Sequence[Rule] = (),
) -> ReviewResult:
    """The semantic diff of two revisions' models, and the models the changed files make
    stale (they touch a model's architecture and leave the model file alone)."""
    diffs = []
    for model_id in sorted(set(before.models) | set(after.models)):
        old = before.models.get(model_id)
        new = after.models.get(model_id)
        diff = diff_models(old[0] if old else None, new[0] if new else None, bands, rules)
        diff.old_path = old[1] if old else None
        diff.new_path = new[1] if new else None
        if old and new and old[1] != new[1] and diff.status in ("changed", "unchanged"):
            diff.status = "renamed" if diff.status == "unchanged" else "changed"
        if old and not new and old[1] in after.invalid:
            diff.status = "invalid"  # the file is still there but does not load
            diff.changes = []
        diffs.append(diff)
    stale: dict[str, list[str]] = {}
    for model_id, (model, path) in after.models.items():
        old_path = before.models.get(model_id, (None, None))[1]
        if path in changed or (old_path is not None and old_path in changed):
            continue  # the change updates the model itself
        touched = [f for f in changed if matches_any(f, watched(model))]
        if touched:
            stale[model_id] = touched
    return ReviewResult(
        before.label,
        after.label,
        diffs,
        stale,
        before.problems + after.problems,
        before=before,
        after=after,
    )


def fails(result: ReviewResult, fail_on: str, bands: RiskBands) -> bool:
    """Whether the change breaks the `--fail-on` policy: a weakened crossing flow, or an
    open risk or a suggested threat added or raised into the band or above."""
    if fail_on == "none":
        return False
    threshold = bands.named(fail_on).low
    for model_diff in result.models:
        if model_diff.weakened:
            return True
        if any(rise.risk >= threshold for rise in model_diff.risk_rises):
            return True
        if any(risk >= threshold for risk in model_diff.suggestion_risks.values()):
            return True
    return False
