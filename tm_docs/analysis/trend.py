"""How each model's open risk moved over its history, and the site's in sum.

A model's trend has one point per commit that changed its file: the open risk
of the model as that commit left it, analysed by the same functions as the
current model (`analyse`, with today's rules, bands and STRIDE chart), so a
point and the current page never disagree about the same file.  A version
that did not load is a gap, not an error; a commit that deleted the file is a
gap too.  The points are annotated with the model's reviews: the review
markers its versions carried and its review point now (`staleness.review_point`).

The site's trend adds up the models at every commit that changed any of them,
each model counting with its last version that loaded (a model whose file
did not exist yet, or had been deleted, counts nothing).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..load.history import Commit, History, Revision
from ..load.models import LoadedModel
from ..model import Stride, ThreatModel
from .portfolio import ModelThreat, Portfolio
from .report import ModelReport, Report
from .risk import RiskBands, is_open
from .rules import RuleSet
from .settings import Settings
from .staleness import end_of_day
from .stride import Coverage, coverage
from .suggest import RuleOutcomes, Suggestion, Triage, suggestions
from .topology import Topology


@dataclass(frozen=True)
class RiskPoint:
    """The open risk of one version of a model."""

    by_band: Mapping[str, int]  # open threats per inherent band, low to critical
    by_residual_band: Mapping[str, int]  # open threats per residual band
    inherent_sum: int
    inherent_max: int
    residual_sum: int
    residual_max: int
    coverage: int  # STRIDE coverage, percent (rounded down)
    not_analysed: int  # applicable STRIDE cells nobody analysed
    untriaged: int  # suggested threats neither accepted nor dismissed
    review_date: dt.date | None = None  # the review marker this version carried
    review_commit: str | None = None

    @property
    def open_threats(self) -> int:
        return sum(self.by_band.values())


def risk_point(
    loaded: LoadedModel, settings: Settings, rules: RuleSet, outcomes: RuleOutcomes | None = None
) -> RiskPoint:
    """The open risk of a loaded model, by the same analysis as the site (`outcomes`:
    rule outcomes remembered across the versions of a trend)."""
    model = loaded.model
    return _point(
        model,
        _rated(loaded, settings.bands),
        _covered(model, settings.chart),
        _untriaged(model, rules, outcomes),
    )


# What each part of a point is computed from: the keys of the model file it reads.  The
# validation of a collection depends on nothing else (a version that does not validate as
# a whole is a gap), so two versions that hold the same data under these keys have the
# same part; a commit that edits the title or the review marker keeps every part, one
# that edits a mitigation keeps the suggestions and the coverage.
_RATED_FROM = ("threats", "mitigations")
_COVERED_FROM = ("components", "flows", "threats", "not_applicable")
_SUGGESTED_FROM = ("components", "flows", "assets", "boundaries", "threats", "dismissed")
_READ = tuple(dict.fromkeys((*_RATED_FROM, *_COVERED_FROM, *_SUGGESTED_FROM)))


@dataclass
class PointParts:
    """The points of many versions of models (a trend), each part of a point remembered
    by the data it is computed from, so that what a commit left unchanged is not
    analysed again.

    `report`: the analysis of the models the caller loaded (used when it was made with
    `rules` and the bands and chart of `settings`).  A version that is one of those models
    (the same object: the version's file has the loaded file's bytes) takes its ratings,
    coverage and suggested threats from that analysis instead of working them out again,
    and so does every later version with the same data under the keys each part is
    computed from."""

    settings: Settings
    rules: RuleSet
    report: Report | None = None
    outcomes: RuleOutcomes = field(init=False)
    _parts: dict[bytes, Any] = field(default_factory=dict, init=False, repr=False)
    _analysed: dict[str, ModelReport] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.outcomes = RuleOutcomes(self.rules.rules)
        report = self.report
        if report is not None and (
            report.rules,
            report.settings.chart,
            report.portfolio.bands,
        ) == (self.rules, self.settings.chart, self.settings.bands):
            self._analysed = {m.model.id: m for m in report.models}

    def point(self, loaded: LoadedModel, data: Mapping[str, Any] | None) -> RiskPoint:
        """`risk_point` of a loaded model; `data` is what it was validated from (None:
        not read, nothing is remembered of this point)."""
        model, rules, outcomes = loaded.model, self.rules, self.outcomes
        analysed = self._analysed.get(model.id)
        if analysed is not None and analysed.model is not model:
            analysed = None  # another version of that model: worked out here
        # repr tells apart what YAML reads (text, numbers, booleans, dates, order).
        texts = {key: repr(data.get(key)) for key in _READ} if data is not None else {}

        def part(name: str, keys: tuple[str, ...], compute: Callable[[], Any]) -> Any:
            if data is None:
                return compute()
            key = hashlib.sha256(
                "\0".join((name, *(texts[k] for k in keys))).encode("utf-8", "backslashreplace")
            ).digest()
            found = self._parts.get(key)
            if found is None:
                found = self._parts[key] = compute()
            return found

        def rated() -> _Rated:
            if analysed is not None and self.report is not None:
                portfolio = self.report.portfolio
                threats = [portfolio.rated(model, t) for t in model.threats if is_open(t)]
                return _rated_of(threats, self.settings.bands)
            return _rated(loaded, self.settings.bands)

        def covered() -> tuple[int, int]:
            if analysed is not None:
                return _covered_of(analysed.coverage)
            return _covered(model, self.settings.chart)

        def untriaged() -> int:
            if analysed is not None:
                return _untriaged_of(analysed.suggestions)
            return _untriaged(model, rules, outcomes)

        return _point(
            model,
            part("rated", _RATED_FROM, rated),
            part("covered", _COVERED_FROM, covered),
            part("untriaged", _SUGGESTED_FROM, untriaged),
        )


_Rated = tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...], int, int, int, int]


def _rated(loaded: LoadedModel, bands: RiskBands) -> _Rated:
    return _rated_of(Portfolio([loaded], bands).open_threats, bands)


def _rated_of(open_threats: Sequence[ModelThreat], bands: RiskBands) -> _Rated:
    """Open threats by inherent and residual band, and the sums and highest of both
    (from the ratings of one model's open threats: its threats and mitigations alone)."""
    by_band = {b.name: 0 for b in bands.bands}
    residual = dict(by_band)
    for rated in open_threats:
        by_band[rated.band.name] += 1
        if rated.residual_band is not None:
            residual[rated.residual_band.name] += 1
    return (
        tuple(by_band.items()),
        tuple(residual.items()),
        sum(r.threat.risk for r in open_threats),
        max((r.threat.risk for r in open_threats), default=0),
        sum(r.residual for r in open_threats),
        max((r.residual for r in open_threats), default=0),
    )


def _covered(model: ThreatModel, chart: Mapping[str, Sequence[Stride]]) -> tuple[int, int]:
    return _covered_of(coverage(model, chart))


def _covered_of(found: Coverage) -> tuple[int, int]:
    """STRIDE coverage in percent, and the applicable cells nobody analysed."""
    return found.percent, len(found.gaps)


def _untriaged(model: ThreatModel, rules: RuleSet, outcomes: RuleOutcomes | None) -> int:
    return _untriaged_of(suggestions(model, rules.rules, Topology(model), outcomes))


def _untriaged_of(found: Sequence[Suggestion]) -> int:
    """The suggested threats neither accepted nor dismissed."""
    return sum(s.triage is Triage.UNTRIAGED for s in found)


def _point(
    model: ThreatModel, rated: _Rated, covered: tuple[int, int], untriaged: int
) -> RiskPoint:
    by_band, by_residual_band, inherent_sum, inherent_max, residual_sum, residual_max = rated
    marker = model.review
    return RiskPoint(
        by_band=dict(by_band),
        by_residual_band=dict(by_residual_band),
        inherent_sum=inherent_sum,
        inherent_max=inherent_max,
        residual_sum=residual_sum,
        residual_max=residual_max,
        coverage=covered[0],
        not_analysed=covered[1],
        untriaged=untriaged,
        review_date=marker.date if marker else None,
        review_commit=marker.commit if marker else None,
    )


def fingerprint(settings: Settings, rules: RuleSet, version: str) -> str:
    """What a point depends on besides the model file: tm-docs' version, bands, chart
    and rules."""
    digest = hashlib.sha256()
    bands = settings.bands
    digest.update(f"{version}\0{bands.medium} {bands.high} {bands.critical}\0".encode())
    for kind, categories in sorted(settings.chart.items()):
        digest.update(f"{kind}={','.join(c.value for c in categories)}\0".encode())
    for rule in rules.rules:
        digest.update(rule.model_dump_json().encode())
    return digest.hexdigest()


_COUNTS = ("inherent_sum", "inherent_max", "residual_sum", "residual_max")
_SMALL = ("coverage", "not_analysed", "untriaged")
_MAX_COUNT = 1_000_000


def encode_point(point: RiskPoint) -> dict[str, Any]:
    """A point as JSON data (for the disk cache)."""
    return {
        "by_band": dict(point.by_band),
        "by_residual_band": dict(point.by_residual_band),
        **{name: getattr(point, name) for name in (*_COUNTS, *_SMALL)},
        "review_date": point.review_date.isoformat() if point.review_date else None,
        "review_commit": point.review_commit,
    }


def decoder(bands: RiskBands) -> Any:
    """A strict reader of cached points for these bands: None for anything else."""
    names = [b.name for b in bands.bands]

    def counts(value: Any) -> dict[str, int] | None:
        if not isinstance(value, dict) or set(value) != set(names):
            return None
        if not all(_is_count(n) for n in value.values()):
            return None
        return {n: int(value[n]) for n in names}

    def decode(data: Any) -> RiskPoint | None:
        expected = {"by_band", "by_residual_band", *_COUNTS, *_SMALL, "review_date"}
        expected.add("review_commit")
        if not isinstance(data, dict) or set(data) != expected:
            return None
        by_band, residual = counts(data["by_band"]), counts(data["by_residual_band"])
        numbers = [data[n] for n in (*_COUNTS, *_SMALL)]
        if by_band is None or residual is None or not all(_is_count(n) for n in numbers):
            return None
        if data["coverage"] > 100:
            return None
        day, commit = data["review_date"], data["review_commit"]
        if day is not None and not isinstance(day, str):
            return None
        if commit is not None and not (
            isinstance(commit, str) and 4 <= len(commit) <= 64 and commit.isalnum()
        ):
            return None
        return RiskPoint(
            by_band=by_band,
            by_residual_band=residual,
            **{n: int(data[n]) for n in (*_COUNTS, *_SMALL)},
            review_date=dt.date.fromisoformat(day) if day else None,  # ValueError: rejected
            review_commit=commit,
        )

    return decode


def _is_count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= _MAX_COUNT


@dataclass(frozen=True)
class TrendPoint:
    """One commit that changed a model file, and the model's risk after it."""

    commit: Commit
    order: int  # position in the history, oldest first (0 = the first commit)
    path: str  # the file's path in that commit
    risk: RiskPoint | None
    gap: str | None = None  # why there is no risk at this commit

    @property
    def time(self) -> dt.datetime:
        return self.commit.time


@dataclass(frozen=True)
class ReviewMark:
    """A review on the time line: a marker a version carried, or the review point now."""

    time: dt.datetime
    label: str
    current: bool = False  # the model's review point now


@dataclass(frozen=True)
class ModelTrend:
    model_id: str
    title: str
    points: tuple[TrendPoint, ...] = ()  # oldest first
    reviews: tuple[ReviewMark, ...] = ()  # oldest first
    unknown: str | None = None  # why there is no trend (history cannot be read)

    @property
    def known(self) -> list[TrendPoint]:
        return [p for p in self.points if p.risk is not None]

    @property
    def gaps(self) -> list[TrendPoint]:
        return [p for p in self.points if p.risk is None]

    @property
    def latest(self) -> TrendPoint | None:
        return self.points[-1] if self.points else None

    def since(self, when: dt.datetime | None) -> ModelTrend:
        """The trend from `when` on (the whole trend for None)."""
        if when is None:
            return self
        return replace(
            self,
            points=tuple(p for p in self.points if p.time >= when),
            reviews=tuple(r for r in self.reviews if r.time >= when),
        )

    def change(self) -> int | None:
        """Open threats now minus at the first known point (None without two points)."""
        known = self.known
        if len(known) < 2:
            return None
        first, last = known[0].risk, known[-1].risk
        assert first is not None and last is not None
        return last.open_threats - first.open_threats


Result = RiskPoint | str  # a point, or why the version has none
DELETED = "the file was deleted"


def model_trend(
    model_id: str,
    title: str,
    revisions: Sequence[Revision],
    results: Mapping[str, Result],
    history: History,
    review_time: dt.datetime | None = None,
) -> ModelTrend:
    """A model's trend from its revisions and the result of each version (by object id)."""
    total = len(history.commits)
    points = []
    for revision in revisions:
        index = history.index_of(revision.commit.sha)
        order = total - 1 - index if index is not None else 0
        if revision.blob is None:
            points.append(TrendPoint(revision.commit, order, revision.path, None, DELETED))
            continue
        result = results.get(revision.blob, "the version could not be read")
        if isinstance(result, str):
            points.append(TrendPoint(revision.commit, order, revision.path, None, result))
        else:
            points.append(TrendPoint(revision.commit, order, revision.path, result))
    reviews = _reviews(points, history, review_time)
    return ModelTrend(model_id, title, tuple(points), tuple(reviews))


def _reviews(
    points: Sequence[TrendPoint], history: History, review_time: dt.datetime | None
) -> list[ReviewMark]:
    """The reviews recorded in the versions' markers, and the review point now."""
    marks: dict[dt.datetime, ReviewMark] = {}
    for point in points:
        risk = point.risk
        if risk is None:
            continue
        if risk.review_date is not None and risk.review_date <= point.time.date():
            when = end_of_day(risk.review_date)
            marks.setdefault(when, ReviewMark(when, f"review {risk.review_date.isoformat()}"))
        if risk.review_commit is not None:
            commit = history.find(risk.review_commit)
            if commit is not None:
                label = f"review of {commit.short}"
                marks.setdefault(commit.time, ReviewMark(commit.time, label))
    if review_time is not None:
        when = review_time
        marks[when] = ReviewMark(when, f"last review {when.date().isoformat()}", current=True)
    return sorted(marks.values(), key=lambda m: m.time)


def unknown_trend(model_id: str, title: str, reason: str) -> ModelTrend:
    return ModelTrend(model_id, title, unknown=reason)


@dataclass(frozen=True)
class SitePoint:
    """All models at one commit that changed any of them."""

    commit: Commit
    order: int
    by_residual_band: Mapping[str, int]  # open threats per residual band, summed
    residual_sum: int
    models: int  # models that existed (and loaded, at least once) by then
    changed: tuple[str, ...]  # models whose file this commit changed

    @property
    def open_threats(self) -> int:
        return sum(self.by_residual_band.values())


def site_trend(
    trends: Sequence[ModelTrend], bands: RiskBands, since: dt.datetime | None = None
) -> list[SitePoint]:
    """The sum over all models at every commit that changed any of them, oldest first.

    A model counts with its last version that loaded; a deleted file counts nothing.
    """
    events: dict[int, list[tuple[str, TrendPoint]]] = {}
    commits: dict[int, Commit] = {}
    for trend in trends:
        for point in trend.points:
            events.setdefault(point.order, []).append((trend.model_id, point))
            commits[point.order] = point.commit
    names = [b.name for b in bands.bands]
    state: dict[str, RiskPoint] = {}
    # Running sums: each commit changes a few models, so only those are counted again.
    totals = dict.fromkeys(names, 0)
    residual_sum = 0
    points = []
    for order in sorted(events):
        changed = []
        for model_id, point in events[order]:
            changed.append(model_id)
            if point.risk is None and point.gap != DELETED:
                continue  # a version that did not load: the model keeps its last loaded state
            old = state.pop(model_id, None)
            if old is not None:
                for n in names:
                    totals[n] -= old.by_residual_band.get(n, 0)
                residual_sum -= old.residual_sum
            if point.risk is not None:
                state[model_id] = point.risk
                for n in names:
                    totals[n] += point.risk.by_residual_band.get(n, 0)
                residual_sum += point.risk.residual_sum
        commit = commits[order]
        if since is not None and commit.time < since:
            continue
        points.append(
            SitePoint(commit, order, dict(totals), residual_sum, len(state), tuple(sorted(changed)))
        )
    return points


@dataclass(frozen=True)
class Trends:
    """Every model's trend and the site's, or why history could not be read."""

    models: Mapping[str, ModelTrend]
    site: tuple[SitePoint, ...] = ()
    unknown: str | None = None
