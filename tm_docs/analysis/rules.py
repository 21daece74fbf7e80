"""Threat rules as data: their format, loading, and matching against model facts.

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

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ..messages import validation_problems
from ..model import TEXT_PATTERN, Stride
from ..problems import Problem, did_you_mean, display_path, sort_problems
from ..yaml_source import read_document
from .facts import FACT_VALUES, FACTS, ORDERED

RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
RuleText = Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=TEXT_PATTERN)]
Weakness = Annotated[int, Field(ge=1, le=99999)]


class Rule(BaseModel):
    """One rule: when its facts hold for an element, it suggests a threat."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(pattern=RULE_ID_PATTERN)]
    title: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=TEXT_PATTERN)]
    applies_to: Literal["component", "flow"]
    when: dict[str, Any] = Field(min_length=1)
    categories: list[Stride] = Field(min_length=1)
    cwe: list[Weakness] = Field(default_factory=list)
    capec: list[Weakness] = Field(default_factory=list)
    impact: int = Field(ge=1, le=5)
    likelihood: int = Field(ge=1, le=5)
    explanation: RuleText
    mitigation: RuleText

    @property
    def risk(self) -> int:
        return self.impact * self.likelihood

    @property
    def references(self) -> list[str]:
        return [f"CWE-{n}" for n in self.cwe] + [f"CAPEC-{n}" for n in self.capec]


_RULE_LISTS: dict[str, tuple[str, type[BaseModel]]] = {"rules": ("rule", Rule)}
_OPERATORS = {"not", "at_least", "at_most", "contains", "lacks", "matches", "more_than"}


def _condition_problems(rule: Rule) -> list[tuple[str, str]]:
    """What is wrong with a rule's conditions: (fact name, message) pairs."""
    facts = FACTS[rule.applies_to]
    problems = []
    for name, expected in rule.when.items():
        if name not in facts:
            hint = did_you_mean(name, facts)
            problems.append((name, f"'{name}' is not a fact of a {rule.applies_to}{hint}"))
            continue
        domain = FACT_VALUES[rule.applies_to].get(name)
        shape = facts[name].split(":", 1)[0]  # bool, text, level, set, number ...
        problems.extend((name, m) for m in _matcher_problems(name, expected, domain, shape))
    return problems


# Which operators suit which kind of fact (the first word of its description in facts.py).
_SUITS = {
    "contains": ("set",),
    "lacks": ("set",),
    "more_than": ("number",),
    "matches": ("text",),
    "at_least": ("level",),
    "at_most": ("level",),
}


def _matcher_problems(
    name: str, expected: Any, domain: list[Any] | None, shape: str = ""
) -> list[str]:
    if isinstance(expected, list):
        return [m for option in expected for m in _matcher_problems(name, option, domain, shape)]
    if not isinstance(expected, dict):
        if domain is not None and expected not in domain:
            hint = did_you_mean(str(expected), [str(v) for v in domain])
            allowed = ", ".join(str(v).lower() for v in domain)
            return [f"'{name}' is never {expected!r}{hint}; it is one of: {allowed}"]
        return []
    unknown = set(expected) - _OPERATORS
    if unknown or len(expected) != 1:
        return [f"'{name}': use exactly one of {', '.join(sorted(_OPERATORS))}"]
    ((operator, value),) = expected.items()
    if operator == "not":
        return _matcher_problems(name, value, domain, shape)
    suits = _SUITS.get(operator)
    if suits is not None and not shape.startswith(suits):
        return [f"'{name}' is a {shape} fact; {operator} works on {' or '.join(suits)} facts"]
    if operator == "more_than" and (isinstance(value, bool) or not isinstance(value, int)):
        return [f"'{name}': more_than needs a whole number"]
    if operator in ("contains", "lacks"):
        return _matcher_problems(name, value, domain)
    if operator in ("at_least", "at_most") and value not in ORDERED.get(name.split("_")[-1], []):
        scale = ORDERED.get(name.split("_")[-1])
        return [
            f"'{name}': {operator} needs one of {', '.join(scale or ['(not an ordered fact)'])}"
        ]
    if operator == "matches" and not _alternatives(value):
        return [f"'{name}': matches needs words separated by '|', e.g. 'postgres|mysql'"]
    return []


def _alternatives(value: Any) -> list[str]:
    return [word.strip().lower() for word in str(value).split("|") if word.strip()]


def matches(expected: Any, actual: Any, fact: str) -> bool:
    """Whether one condition holds for one fact value."""
    if isinstance(expected, dict):
        ((operator, value),) = expected.items()
        if operator == "not":
            return not matches(value, actual, fact)
        if operator in ("at_least", "at_most"):
            if actual is None:
                return False
            scale = ORDERED[fact.split("_")[-1]]
            here, there = scale.index(actual), scale.index(value)
            return here >= there if operator == "at_least" else here <= there
        if operator == "contains":
            return value in actual
        if operator == "lacks":
            return value not in actual
        if operator == "matches":
            text = str(actual or "").lower()
            return any(word in text for word in _alternatives(value))
        if operator == "more_than":
            return bool(actual is not None and actual > value)
    if isinstance(expected, list):
        return any(matches(option, actual, fact) for option in expected)
    if expected == "unknown":
        return actual is None
    return bool(actual == expected)


def rule_holds(rule: Rule, facts: dict[str, Any]) -> bool:
    return all(matches(expected, facts[name], name) for name, expected in rule.when.items())


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    problems: tuple[Problem, ...] = ()

    def by_id(self) -> dict[str, Rule]:
        return {r.id: r for r in self.rules}


@dataclass(frozen=True)
class _Located:
    rule: Rule
    display: str
    line: int
    column: int


def _load_file(path: Path, display: str) -> tuple[list[_Located], list[Problem]]:
    """The valid rules of one file, and every problem of every rule in it."""
    document = read_document(path, display)
    if document.data is None:
        return [], list(document.problems)
    problems = list(document.problems)
    data = document.data
    items = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(data, dict) or set(data) != {"rules"} or not isinstance(items, list):
        shape = "a rule file is a mapping with one key, 'rules', holding a list"
        return [], [*problems, Problem(display, 1, 1, shape)]
    rules = []
    # Each rule is checked on its own, so one broken rule does not hide the others.
    for index, item in enumerate(items):
        try:
            rule = Rule.model_validate(item)
        except ValidationError as exc:
            problems.extend(
                validation_problems(
                    exc,
                    data,
                    document.source,
                    display,
                    root=Rule,
                    lists=_RULE_LISTS,
                    prefix=("rules", index),
                )
            )
            continue
        for name, message in _condition_problems(rule):
            where = document.source.locate(("rules", index, "when", name), key=True)
            problems.append(
                Problem(display, where.line, where.column, f"rule '{rule.id}': {message}")
            )
        at = document.source.locate(("rules", index, "id"))
        rules.append(_Located(rule, display, at.line, at.column))
    return rules, problems


def builtin_rule_files() -> list[Path]:
    folder = resources.files("tm_docs").joinpath("rules")
    return sorted(Path(str(folder)).glob("*.yaml"))


def load_rules(extra_folders: Sequence[Path] = ()) -> RuleSet:
    """The packaged rules plus those of the given folders; problems name file and line."""
    rules: list[Rule] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    files = [(p, f"tm_docs/rules/{p.name}") for p in builtin_rule_files()]
    for folder in extra_folders:
        if not folder.is_dir():
            problems.append(Problem(str(folder), 1, 1, "the rules folder does not exist"))
            continue
        files += [(p, display_path(p)) for p in sorted(folder.glob("*.y*ml"))]
    for path, display in files:
        loaded, file_problems = _load_file(path, display)
        problems.extend(file_problems)
        for located in loaded:
            rule = located.rule
            if rule.id in seen:
                problems.append(
                    Problem(
                        located.display,
                        located.line,
                        located.column,
                        f"rule id '{rule.id}' is already defined in {seen[rule.id]}",
                    )
                )
                continue
            seen[rule.id] = located.display
            rules.append(rule)
    return RuleSet(tuple(rules), tuple(sort_problems(problems)))
