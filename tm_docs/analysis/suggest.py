"""Suggested threats: rules applied to a model's facts, and how the model triaged them.

A suggestion is keyed `rule-id@element-id`.  The key depends only on the rule
and the element, so a model's answer to a suggestion (accept it as a threat
with `from_suggestion`, or dismiss it with a reason) survives every edit that
leaves that rule and element in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from ..load.yaml_source import SourceMap
from ..model import Threat, ThreatModel
from ..problems import Problem, Severity
from .facts import Subject, subjects
from .rules import Rule, rule_holds
from .topology import Topology


class Triage(str, Enum):
    UNTRIAGED = "untriaged"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


@dataclass(frozen=True)
class Suggestion:
    rule: Rule
    subject: Subject
    triage: Triage = Triage.UNTRIAGED
    threat: Threat | None = None  # the threat that accepted it
    reason: str | None = None  # why it was dismissed
    folded: tuple[str, ...] = ()  # ids of rules whose suggestion for the element this one holds

    @property
    def key(self) -> str:
        return suggestion_key(self.rule.id, self.subject.id)

    @property
    def impact(self) -> int:
        """The rule's impact, moved by the classification of the data at stake."""
        shift = _CLASSIFICATION_SHIFT.get(str(self.subject.facts.get("classification")), 0)
        return max(1, min(5, self.rule.impact + shift))

    @property
    def risk(self) -> int:
        return self.impact * self.rule.likelihood

    @property
    def unrecorded(self) -> list[str]:
        """Facts the rule tests that the model leaves out: the suggestion asks, not asserts."""
        return sorted(n for n in self.rule.when if self.subject.facts.get(n) is None)

    @property
    def listed(self) -> list[str]:
        """The values of the fact the rule lists (for example the token checks not made)."""
        if self.rule.lists is None:
            return []
        return sorted(str(v) for v in self.subject.facts.get(self.rule.lists) or ())


# Severity follows the data: restricted data raises a rule's impact, internal or public
# data lowers it; an element without classified data keeps the rule's own.
_CLASSIFICATION_SHIFT = {"restricted": 1, "confidential": 0, "internal": -1, "public": -1}


def suggestion_key(rule_id: str, element_id: str) -> str:
    return f"{rule_id}@{element_id}"


@dataclass
class RuleOutcomes:
    """Which of `rules` hold for an element, remembered by the element's kind and facts
    (all that a rule reads): the versions of a model in its history repeat most of their
    elements unchanged, so the risk trend asks each distinct element once."""

    rules: Sequence[Rule]
    _held: dict[str, tuple[Rule, ...]] = field(default_factory=dict)

    def holding(self, subject: Subject) -> tuple[Rule, ...]:
        """The rules that hold for the subject, in the order of `rules`."""
        key = repr(
            (
                subject.kind,
                [
                    # Sets are sorted (their order is not theirs), types are kept.
                    (name, type(value).__name__, sorted(value, key=repr))
                    if isinstance(value, (set, frozenset))
                    else (name, type(value).__name__, value)
                    for name, value in subject.facts.items()
                ],
            )
        )
        held = self._held.get(key)
        if held is None:
            held = self._held[key] = tuple(
                r
                for r in self.rules
                if r.applies_to == subject.kind and rule_holds(r, subject.facts)
            )
        return held


def suggestions(
    model: ThreatModel,
    rules: Sequence[Rule],
    topology: Topology | None = None,
    outcomes: RuleOutcomes | None = None,
) -> list[Suggestion]:
    """Every suggestion the rules make for the model, with its triage state.

    `outcomes`: remembered rule outcomes, used when they are of these very `rules`."""
    if outcomes is not None and outcomes.rules is not rules:
        outcomes = None
    accepted = {t.from_suggestion: t for t in model.threats if t.from_suggestion}
    dismissed = {d.suggestion: d.reason for d in model.dismissed}
    by_id = {r.id: r for r in rules}
    excluded = {c.id for c in model.components if c.out_of_scope}
    excluded |= {f.id for f in model.flows if f.out_of_scope}
    found = []
    for subject in subjects(model, topology):
        if subject.id in excluded:
            continue  # out of scope: no suggestions
        if outcomes is not None:
            matching: Sequence[Rule] = outcomes.holding(subject)
        else:
            matching = [
                r for r in rules if r.applies_to == subject.kind and rule_holds(r, subject.facts)
            ]
        for rule in matching:
            key = suggestion_key(rule.id, subject.id)
            # The model's own answer first; then a threat it already has for the same
            # element and weakness counts as accepting the suggestion.
            if key in accepted:
                found.append(Suggestion(rule, subject, Triage.ACCEPTED, threat=accepted[key]))
            elif key in dismissed:
                found.append(Suggestion(rule, subject, Triage.DISMISSED, reason=dismissed[key]))
            elif covering := _covering_threat(model, rule, subject.id, by_id):
                found.append(Suggestion(rule, subject, Triage.ACCEPTED, threat=covering))
            else:
                found.append(Suggestion(rule, subject))
    return _fold(sorted(found, key=lambda s: (-s.risk, s.rule.id, s.subject.id)))


def _fold(found: list[Suggestion]) -> list[Suggestion]:
    """One untriaged suggestion per element and weakness.

    When untriaged suggestions of several rules for one element share a CWE id, the
    riskiest (the first, as `found` is sorted) stands for them and names the others.
    Triaged suggestions are kept as they are: the model answered each of them.
    """
    kept: list[Suggestion] = []
    for suggestion in found:
        host = next(
            (
                i
                for i, k in enumerate(kept)
                if k.triage is Triage.UNTRIAGED
                and suggestion.triage is Triage.UNTRIAGED
                and k.subject.id == suggestion.subject.id
                and set(k.rule.cwe) & set(suggestion.rule.cwe)
            ),
            None,
        )
        if host is None:
            kept.append(suggestion)
        else:
            kept[host] = replace(kept[host], folded=(*kept[host].folded, suggestion.rule.id))
    return kept


def _covering_threat(
    model: ThreatModel, rule: Rule, element: str, rules: dict[str, Rule]
) -> Threat | None:
    """A threat the model already has for this element and weakness, if any.

    It names the element as a target and either cites one of the rule's CWE ids or
    accepted a suggestion of another rule with one of them for the same element.
    """
    weaknesses = {f"CWE-{n}" for n in rule.cwe}
    if not weaknesses:
        return None
    for threat in model.threats:
        if element not in threat.targets:
            continue
        if weaknesses & set(threat.references):
            return threat
        origin = threat.from_suggestion
        if origin is not None and origin.endswith(f"@{element}"):
            sibling = rules.get(origin.split("@", 1)[0])
            if sibling is not None and set(sibling.cwe) & set(rule.cwe):
                return threat
    return None


def stale_dismissals(
    model: ThreatModel,
    found: Sequence[Suggestion],
    display: str,
    source: SourceMap | None = None,
) -> list[Problem]:
    """Warnings for dismissals that no longer match a suggestion (rule or facts changed)."""
    current = {s.key for s in found}
    problems = []
    for index, dismissal in enumerate(model.dismissed):
        if dismissal.suggestion in current:
            continue
        where = source.locate(("dismissed", index, "suggestion")) if source else None
        problems.append(
            Problem(
                display,
                where.line if where else 1,
                where.column if where else 1,
                f"dismissal of '{dismissal.suggestion}' matches no current suggestion (the "
                "rule no longer applies to that element); remove it",
                Severity.WARNING,
            )
        )
    return problems
