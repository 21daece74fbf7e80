"""Everything the site and the checks show, computed once for all models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from ..load.models import LoadedModel
from ..load.signed import SignedCache, code_digest, content_key
from ..model import MitigationStatus, ThreatModel
from ..problems import Problem
from ..progress import Progress, no_progress
from .controls import Framework, control_frameworks
from .portfolio import ModelThreat, Portfolio, PortfolioMemo
from .rules import Rule, RuleSet
from .settings import Policy, Settings
from .stored import NotStored, decode, encode
from .stride import Coverage, coverage
from .suggest import RuleOutcomes, Suggestion, Triage, stale_dismissals, suggestions


@dataclass(frozen=True)
class ModelReport:
    loaded: LoadedModel
    coverage: Coverage
    suggestions: tuple[Suggestion, ...]
    warnings: tuple[Problem, ...] = ()

    @property
    def model(self) -> ThreatModel:
        return self.loaded.model

    @cached_property
    def untriaged(self) -> list[Suggestion]:
        return [s for s in self.suggestions if s.triage is Triage.UNTRIAGED]

    @cached_property
    def dismissed(self) -> list[Suggestion]:
        return [s for s in self.suggestions if s.triage is Triage.DISMISSED]

    @cached_property
    def accepted(self) -> list[Suggestion]:
        return [s for s in self.suggestions if s.triage is Triage.ACCEPTED]


def _at(loaded: LoadedModel, collection: str, element_id: str, message: str) -> Problem:
    """A problem located at the id of an element in its model file."""
    items = getattr(loaded.model, collection)
    index = next((i for i, item in enumerate(items) if item.id == element_id), None)
    line = column = 1
    if loaded.source is not None and index is not None:
        where = loaded.source.locate((collection, index, "id"))
        line, column = where.line, where.column
    return Problem(loaded.display_path, line, column, message)


@dataclass(frozen=True)
class Finding:
    """One reason `tm-docs check` may fail, located in a model file.

    `model_id`, `element_id` and `key` name what the finding is about without
    its place in the file (a threat id, a suggestion key, an element and a STRIDE
    category), so a finding can be recognised again after lines have moved.
    """

    policy: Policy
    problem: Problem
    model_id: str = ""
    element_id: str = ""
    key: str = ""
    rule: Rule | None = None  # the rule of a suggested threat


@dataclass(frozen=True)
class Report:
    portfolio: Portfolio
    models: tuple[ModelReport, ...]
    rules: RuleSet
    settings: Settings = field(default_factory=Settings)

    def of(self, model: ThreatModel) -> ModelReport:
        return self._by_id[model.id]

    @cached_property
    def _by_id(self) -> dict[str, ModelReport]:
        return {m.model.id: m for m in self.models}

    @property
    def warnings(self) -> list[Problem]:
        return [w for m in self.models for w in m.warnings]

    @cached_property
    def controls(self) -> list[Framework]:
        """The controls the mitigations implement, by framework (analysis/controls.py)."""
        return control_frameworks(self.portfolio)

    @cached_property
    def critical_unplanned(self) -> list[ModelThreat]:
        """Open critical threats with no mitigation planned, in progress or done."""
        result = []
        for rated in self.portfolio.open_threats:
            if rated.band.name != "critical":
                continue
            statuses = {
                m.status for m in self.portfolio.links(rated.model).mitigations_of(rated.threat)
            }
            if not statuses - {MitigationStatus.PROPOSED}:
                result.append(rated)
        return result

    def findings(self) -> list[Finding]:
        """Every finding of every policy, whether or not the settings fail on it."""
        found: list[Finding] = []
        loaded = {m.model.id: m.loaded for m in self.models}
        for rated in self.critical_unplanned:
            message = (
                f"threat '{rated.threat.id}' ({rated.threat.title}) is open with critical risk "
                f"{rated.threat.risk} and no mitigation planned, in progress or done"
            )
            problem = _at(loaded[rated.model.id], "threats", rated.threat.id, message)
            found.append(
                Finding(
                    Policy.CRITICAL_UNPLANNED,
                    problem,
                    rated.model.id,
                    rated.threat.id,
                    rated.threat.id,
                )
            )
        for report in self.models:
            for suggestion in report.untriaged:
                message = (
                    f"suggested threat '{suggestion.key}' ({suggestion.rule.title}) is not "
                    "triaged: accept it as a threat (from_suggestion) or dismiss it"
                )
                collection = "flows" if suggestion.subject.kind == "flow" else "components"
                problem = _at(report.loaded, collection, suggestion.subject.id, message)
                found.append(
                    Finding(
                        Policy.UNTRIAGED,
                        problem,
                        report.model.id,
                        suggestion.subject.id,
                        suggestion.key,
                        suggestion.rule,
                    )
                )
            for row, cell in report.coverage.gaps:
                message = (
                    f"{row.element_kind} '{row.element_id}': {cell.category.label.lower()} is "
                    "not analysed: add a threat or a not_applicable entry"
                )
                collection = "flows" if row.element_kind == "flow" else "components"
                problem = _at(report.loaded, collection, row.element_id, message)
                found.append(
                    Finding(
                        Policy.COVERAGE,
                        problem,
                        report.model.id,
                        row.element_id,
                        cell.category.value,
                    )
                )
            # The warning names the dismissed key; the message is what identifies it.
            found.extend(
                Finding(Policy.STALE_DISMISSALS, w, report.model.id, key=w.message)
                for w in report.warnings
            )
        return found


@dataclass
class AnalysisMemo:
    """Each model's analysis by the model file's content and the rules and chart it was
    made with, kept across `mkdocs serve` rebuilds, and each model's part of the portfolio.
    With `disk`, analyses are also kept as signed entries of the project's cache folder,
    so that a new build (a new process) analyses only the models that changed.
    `analysed` names the models the last `analyse` worked out afresh."""

    _base: str = ""
    _base_key: str = ""  # a hash of `_base`, for the disk entries' keys
    _reports: dict[tuple[str, str], ModelReport] = field(default_factory=dict)
    analysed: list[str] = field(default_factory=list)
    portfolio: PortfolioMemo = field(default_factory=PortfolioMemo)
    # Set before each analysis by its caller (opened on every build), or None.
    disk: SignedCache | None = None
    used: set[str] = field(default_factory=set)  # disk entries the last analysis used

    def disk_key(self, loaded: LoadedModel) -> str:
        """What a model's analysis is made of: the model file (by hash) and its name, the
        rules and the chart (`_base`), and the code that analysed it."""
        return content_key(
            "model analysis", self._base_key, code_digest(), loaded.digest, loaded.display_path
        )


def _stored(
    memo: AnalysisMemo, loaded: LoadedModel, rules: RuleSet, portfolio: Portfolio
) -> ModelReport | None:
    """The model's analysis from the memo's disk cache, or None (missing, or not one that
    fits this model and these rules: analysed afresh)."""
    if memo.disk is None or not loaded.digest:
        return None
    entry = memo.disk_key(loaded)
    value = memo.disk.get(entry)
    if value is None:
        return None
    try:
        parts = decode(value, loaded.model, rules.rules, portfolio.topology(loaded.model))
    except NotStored:
        return None
    memo.used.add(entry)
    return ModelReport(loaded, *parts)


def _store(memo: AnalysisMemo, report: ModelReport, rules: RuleSet) -> None:
    if memo.disk is None or not report.loaded.digest:
        return
    entry = memo.disk_key(report.loaded)
    value = encode(report.coverage, report.suggestions, report.warnings, rules.rules)
    memo.disk.put(entry, value)
    memo.used.add(entry)


def analyse(
    models: Sequence[LoadedModel],
    settings: Settings,
    rules: RuleSet,
    memo: AnalysisMemo | None = None,
    progress: Progress = no_progress,
    outcomes: RuleOutcomes | None = None,
) -> Report:
    """Coverage, suggestions and the portfolio for all models.

    A model's analysis depends only on the model, the rules and the STRIDE chart;
    with `memo`, an unchanged model (same file content) keeps its earlier one, from
    memory or from the memo's disk cache.
    `outcomes`: rule outcomes remembered by element (the risk trend's many versions).
    """
    portfolio = Portfolio(models, settings.bands, memo.portfolio if memo is not None else None)
    if memo is None:
        memo = AnalysisMemo()  # nothing to reuse, so no key to compare (its repr is costly)
    else:
        base = repr((rules.rules, sorted(settings.chart.items())))
        if base != memo._base:
            memo._base, memo._base_key, memo._reports = base, content_key(base), {}
    kept: dict[tuple[str, str], ModelReport] = {}
    memo.analysed = []
    memo.used = set()
    reports = []
    for number, loaded in enumerate(models, 1):
        progress("analysing models", number, len(models))
        key = (loaded.digest, loaded.display_path)
        earlier = memo._reports.get(key) if loaded.digest else None
        if earlier is not None and earlier.loaded is loaded:
            if memo.disk is not None:
                memo.used.add(memo.disk_key(loaded))  # kept on disk too
            kept[key] = earlier
            reports.append(earlier)
            continue
        report = _stored(memo, loaded, rules, portfolio)
        if report is None:
            found = suggestions(
                loaded.model, rules.rules, portfolio.topology(loaded.model), outcomes
            )
            warnings = stale_dismissals(loaded.model, found, loaded.display_path, loaded.source)
            report = ModelReport(
                loaded, coverage(loaded.model, settings.chart), tuple(found), tuple(warnings)
            )
            memo.analysed.append(loaded.model.id)
            _store(memo, report, rules)
        kept[key] = report
        reports.append(report)
    memo._reports = kept
    return Report(portfolio, tuple(reports), rules, settings)


def policies_in_force(fail_on: Sequence[str], default: Sequence[Policy]) -> frozenset[Policy]:
    """The policies a check fails on: those asked for ('none' for no policy), else the
    configured ones."""
    if "none" in fail_on:
        return frozenset()
    return frozenset(Policy(p) for p in fail_on) if fail_on else frozenset(default)


@dataclass(frozen=True)
class CheckOutcome:
    """What `tm-docs check` decided: every finding, and which of them fail the check."""

    report: Report
    policies: frozenset[Policy]
    findings: tuple[Finding, ...]

    def fails(self, finding: Finding) -> bool:
        return finding.policy in self.policies

    @property
    def failing(self) -> list[Finding]:
        return [f for f in self.findings if self.fails(f)]

    @property
    def ok(self) -> bool:
        return not self.failing


def check(report: Report, fail_on: Sequence[str] = ()) -> CheckOutcome:
    policies = policies_in_force(fail_on, report.settings.fail_on)
    return CheckOutcome(report, policies, tuple(report.findings()))
