"""Threat rules as data: their format and matching against model facts (loading: load/rules.py).

A rule names the facts it needs (`when:`), the STRIDE categories and weakness
ids of the threat it suggests, a default impact and likelihood, why the facts
mean a threat, and what usually mitigates it.  tm-docs ships a library of rules
(`tm_docs/rules/*.yaml`); a repository can add its own in the same format.

Conditions: every entry of `when` must hold.  An entry maps a fact to
- a value: the fact equals it (`unknown` matches a fact the model leaves out);
- a list: the fact is one of its values;
- `{not: X}`: X does not hold;
- `{at_least: level}`: an ordered fact (classification, trust) is at that level or above;
- `{at_most: level}`: ... at that level or below;
- `{contains: x}` / `{lacks: x}`: a set fact has / has not the value x;
- `{matches: "a|b"}`: a text fact contains one of the `|`-separated words, ignoring
  case (plain text, not a regular expression: rule files arrive in pull requests,
  and a regular expression can be made to run for hours);
- `{more_than: n}`: a number fact is greater than n.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
)

from ..model import ASVS_REQUIREMENT_PATTERN, LINE_PATTERN, TEXT_PATTERN, Stride
from ..problems import Problem
from .conditions import Condition, all_hold, compile_when
from .facts import FACTS

RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
RuleText = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=TEXT_PATTERN)]
Weakness = Annotated[int, Field(ge=1, le=99999)]
# A requirement of the OWASP ASVS 4.0.3, chapter.section.requirement.
AsvsRequirement = Annotated[str, StringConstraints(pattern=ASVS_REQUIREMENT_PATTERN)]
ASVS_VERSION = "4.0.3"


class Rule(BaseModel):
    """One rule: when its facts hold for an element, it suggests a threat."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(pattern=RULE_ID_PATTERN)]
    title: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=LINE_PATTERN)]
    applies_to: Literal["component", "flow"]
    when: dict[str, Any] = Field(min_length=1)
    categories: list[Stride] = Field(min_length=1)
    cwe: list[Weakness] = Field(default_factory=list)
    capec: list[Weakness] = Field(default_factory=list)
    asvs: list[AsvsRequirement] = Field(
        default_factory=list,
        description="Requirements of the OWASP ASVS 4.0.3 (e.g. V5.3.4) that the suggested "
        "mitigation would satisfy; only where that is a fact.",
    )
    impact: int = Field(ge=1, le=5)
    likelihood: int = Field(ge=1, le=5)
    explanation: RuleText
    mitigation: RuleText
    lists: str | None = Field(
        None,
        description="A set fact whose values the suggestion names, e.g. the token checks "
        "that are not made.",
    )

    @property
    def risk(self) -> int:
        return self.impact * self.likelihood

    @property
    def references(self) -> list[str]:
        return [f"CWE-{n}" for n in self.cwe] + [f"CAPEC-{n}" for n in self.capec]

    @property
    def controls(self) -> list[str]:
        """The ASVS requirements as control ids of the model format (asvs:4.0.3:V5.3.4)."""
        return [f"asvs:{ASVS_VERSION}:{r}" for r in self.asvs]

    # The compiled `when`, made once when the rule is validated (see conditions.py).
    _conditions: dict[str, Condition] = PrivateAttr(default_factory=dict)
    _condition_problems: list[tuple[str, str]] = PrivateAttr(default_factory=list)

    def model_post_init(self, context: Any, /) -> None:
        self._conditions, self._condition_problems = compile_when(self.applies_to, self.when)
        facts = FACTS[self.applies_to]
        if self.lists is not None and not facts.get(self.lists, "").startswith("set"):
            self._condition_problems.append(
                ("lists", f"'lists' must name a set fact of a {self.applies_to}")
            )

    @property
    def condition_problems(self) -> list[tuple[str, str]]:
        """What is wrong with the rule's conditions: (fact name, message) pairs."""
        return list(self._condition_problems)

    def holds(self, facts: dict[str, Any]) -> bool:
        """Whether every condition holds for an element's facts."""
        # The private values in one read: `self._x` goes through pydantic's __getattr__,
        # which costs more than the check itself (it runs for every rule and element).
        private = self.__pydantic_private__ or {}
        if private["_condition_problems"]:
            raise ValueError(f"rule '{self.id}' has invalid conditions and cannot be used")
        return all_hold(private["_conditions"], facts)


def rule_holds(rule: Rule, facts: dict[str, Any]) -> bool:
    return rule.holds(facts)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    problems: tuple[Problem, ...] = ()

    def by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}
