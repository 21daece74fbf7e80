"""Suggested threats: rules applied to a model's facts, and how the model triaged them.

A suggestion is keyed `rule-id@element-id`.  The key depends only on the rule
and the element, so a model's answer to a suggestion (accept it as a threat
with `from_suggestion`, or dismiss it with a reason) survives every edit that
leaves that rule and element in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from ..model import Threat, ThreatModel
from ..problems import Problem, Severity
from ..yaml_source import SourceMap
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

    @property
    def key(self) -> str:
        return suggestion_key(self.rule.id, self.subject.id)


def suggestion_key(rule_id: str, element_id: str) -> str:
    return f"{rule_id}@{element_id}"


def suggestions(
    model: ThreatModel, rules: Sequence[Rule], topology: Topology | None = None
) -> list[Suggestion]:
    """Every suggestion the rules make for the model, with its triage state."""
    accepted = {t.from_suggestion: t for t in model.threats if t.from_suggestion}
    dismissed = {d.suggestion: d.reason for d in model.dismissed}
    excluded = {c.id for c in model.components if c.out_of_scope}
    excluded |= {f.id for f in model.flows if f.out_of_scope}
    found = []
    for subject in subjects(model, topology):
        if subject.id in excluded:
            continue  # out of scope: no suggestions
        for rule in rules:
            if rule.applies_to != subject.kind or not rule_holds(rule, subject.facts):
                continue
            key = suggestion_key(rule.id, subject.id)
            if key in accepted:
                found.append(Suggestion(rule, subject, Triage.ACCEPTED, threat=accepted[key]))
            elif key in dismissed:
                found.append(Suggestion(rule, subject, Triage.DISMISSED, reason=dismissed[key]))
            else:
                found.append(Suggestion(rule, subject))
    return sorted(found, key=lambda s: (-s.rule.risk, s.rule.id, s.subject.id))


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
