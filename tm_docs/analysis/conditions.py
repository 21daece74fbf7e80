"""The conditions of a rule's `when:`, checked and compiled once, then evaluated.

Rule files arrive in pull requests, so a condition is first compiled into one of
the small classes below, against what the fact it names can hold; only compiled
conditions are ever evaluated.  That way the checker and the matcher cannot
disagree: whatever compiles can be evaluated on every value of its fact, and
whatever cannot be evaluated is a problem of the rule file, with its line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..problems import did_you_mean
from .facts import FACT_VALUES, FACTS, ORDERED

OPERATORS = ("not", "at_least", "at_most", "contains", "lacks", "matches", "more_than")
MAX_DEPTH = 8  # of nested lists and `not`s in one condition
MAX_OPTIONS = 100  # values in one list
MAX_WORDS = 50  # alternatives in one `matches`

# Which operators suit which kind of fact (the first word of its description in facts.py).
SUITS = {
    "contains": "set",
    "lacks": "set",
    "more_than": "number",
    "matches": "text",
    "at_least": "level",
    "at_most": "level",
}


class Condition:
    """A compiled condition on one fact value."""

    def holds(self, actual: Any) -> bool:  # pragma: no cover - every subclass defines it
        raise NotImplementedError


@dataclass(frozen=True)
class Equals(Condition):
    value: str | bool | int

    def holds(self, actual: Any) -> bool:
        # True == 1 in Python; a fact that is a boolean matches only a boolean.
        return type(actual) is type(self.value) and bool(actual == self.value)


@dataclass(frozen=True)
class Unknown(Condition):
    """`unknown`: the model does not record the fact."""

    def holds(self, actual: Any) -> bool:
        return actual is None


@dataclass(frozen=True)
class AnyOf(Condition):
    options: tuple[Condition, ...]

    def holds(self, actual: Any) -> bool:
        return any(option.holds(actual) for option in self.options)


@dataclass(frozen=True)
class Not(Condition):
    inner: Condition

    def holds(self, actual: Any) -> bool:
        return not self.inner.holds(actual)


@dataclass(frozen=True)
class Level(Condition):
    """`at_least` / `at_most` on an ordered scale."""

    scale: tuple[str, ...]
    index: int
    at_least: bool

    def holds(self, actual: Any) -> bool:
        if actual not in self.scale:
            return False
        here = self.scale.index(actual)
        return here >= self.index if self.at_least else here <= self.index


@dataclass(frozen=True)
class Has(Condition):
    """`contains` (or, with `present=False`, `lacks`) on a set fact."""

    value: str
    present: bool

    def holds(self, actual: Any) -> bool:
        return (self.value in actual) is self.present


@dataclass(frozen=True)
class Words(Condition):
    """`matches`: the text contains one of the words, ignoring case."""

    words: tuple[str, ...]

    def holds(self, actual: Any) -> bool:
        text = actual.lower() if isinstance(actual, str) else ""
        return any(word in text for word in self.words)


@dataclass(frozen=True)
class MoreThan(Condition):
    limit: int

    def holds(self, actual: Any) -> bool:
        return isinstance(actual, int) and not isinstance(actual, bool) and actual > self.limit


def _scale(fact: str) -> tuple[str, ...] | None:
    scale = ORDERED.get(fact.split("_")[-1])
    return tuple(scale) if scale else None


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


class _Compiler:
    def __init__(self, applies_to: str, fact: str) -> None:
        self.fact = fact
        self.shape = FACTS[applies_to][fact].split(":", 1)[0]
        self.kind = self.shape.split()[0]  # bool, text, level, set, number
        self.domain = FACT_VALUES[applies_to].get(fact)
        self.problems: list[str] = []

    def fail(self, message: str) -> None:
        joint = " " if message.startswith(("is ", "never ")) else ": "
        self.problems.append(f"'{self.fact}'{joint}{message}")

    def compile(self, expected: Any, depth: int = 0) -> Condition | None:
        if depth > MAX_DEPTH:
            self.fail(f"nested more than {MAX_DEPTH} levels deep; simplify the condition")
            return None
        if isinstance(expected, list):
            if not expected or len(expected) > MAX_OPTIONS:
                self.fail(f"a list of values needs 1 to {MAX_OPTIONS} entries")
                return None
            compiled = [self.compile(option, depth + 1) for option in expected]
            if any(c is None for c in compiled):
                return None
            return AnyOf(tuple(c for c in compiled if c is not None))
        if isinstance(expected, dict):
            return self._operator(expected, depth)
        return self._value(expected)

    def _value(self, expected: Any) -> Condition | None:
        """A plain value: the fact equals it (`unknown`: the fact is not recorded)."""
        if self.kind == "set":
            self.fail("is a set fact; compare it with contains or lacks")
            return None
        if expected == "unknown" and isinstance(expected, str):
            if self.domain is not None and "unknown" not in self.domain:
                self.fail("is always recorded, so it is never unknown")
                return None
            return Unknown()
        if not isinstance(expected, str | bool | int) or isinstance(expected, float):
            self.fail(f"expected a word, true/false or a number, got {_describe(expected)}")
            return None
        wanted = {"bool": bool, "text": str, "level": str, "number": int}[self.kind]
        if type(expected) is not wanted:
            self.fail(f"is a {self.shape} fact; {_describe(expected)} is never its value")
            return None
        if self.domain is not None and expected not in self.domain:
            allowed = ", ".join(str(v).lower() for v in self.domain)
            hint = did_you_mean(str(expected), [str(v) for v in self.domain])
            self.fail(f"is never {_describe(expected)}{hint}; it is one of: {allowed}")
            return None
        return Equals(expected)

    def _operator(self, expected: dict[Any, Any], depth: int) -> Condition | None:
        if len(expected) != 1 or not set(expected) <= set(OPERATORS):
            self.fail(f"use exactly one of {', '.join(OPERATORS)}")
            return None
        ((operator, value),) = expected.items()
        if operator == "not":
            inner = self.compile(value, depth + 1)
            return Not(inner) if inner is not None else None
        suits = SUITS[operator]
        if self.kind != suits:
            self.fail(f"is a {self.shape} fact; {operator} works on {suits} facts")
            return None
        if operator in ("at_least", "at_most"):
            scale = _scale(self.fact)
            if scale is None or not isinstance(value, str) or value not in scale:
                self.fail(f"{operator} needs one of {', '.join(scale or ())}")
                return None
            return Level(scale, scale.index(value), operator == "at_least")
        if operator in ("contains", "lacks"):
            if not isinstance(value, str):
                self.fail(f"{operator} needs one word, got {_describe(value)}")
                return None
            if self.domain is not None and value not in self.domain:
                allowed = ", ".join(str(v) for v in self.domain)
                hint = did_you_mean(value, [str(v) for v in self.domain])
                self.fail(f"never holds {value!r}{hint}; it holds some of: {allowed}")
                return None
            return Has(value, operator == "contains")
        if operator == "matches":
            words = (
                [w.strip().lower() for w in value.split("|") if w.strip()]
                if isinstance(value, str)
                else []
            )
            if not words or len(words) > MAX_WORDS:
                self.fail(
                    f"matches needs 1 to {MAX_WORDS} words separated by '|', e.g. 'postgres|mysql'"
                )
                return None
            return Words(tuple(words))
        # more_than
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail("more_than needs a whole number")
            return None
        return MoreThan(value)


def compile_when(
    applies_to: str, when: dict[str, Any]
) -> tuple[dict[str, Condition], list[tuple[str, str]]]:
    """The compiled conditions of a rule, and its problems as (fact, message) pairs."""
    facts = FACTS.get(applies_to, {})
    compiled: dict[str, Condition] = {}
    problems: list[tuple[str, str]] = []
    for name, expected in when.items():
        if not isinstance(name, str) or name not in facts:
            hint = did_you_mean(str(name), facts)
            problems.append((str(name), f"'{name}' is not a fact of a {applies_to}{hint}"))
            continue
        compiler = _Compiler(applies_to, name)
        condition = compiler.compile(expected)
        problems.extend((name, message) for message in compiler.problems)
        if condition is not None and not compiler.problems:
            compiled[name] = condition
    return compiled, problems


def all_hold(conditions: dict[str, Condition], facts: dict[str, Any]) -> bool:
    return all(condition.holds(facts[name]) for name, condition in conditions.items())
