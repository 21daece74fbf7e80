"""How good the suggested threats are, measured on a hand-labelled corpus.

The corpus (`benchmarks/corpus/models/*.yaml`) is a set of models of typical
systems; `benchmarks/corpus/labels.yaml` lists, for each, the weaknesses a
security engineer expects to be raised (element and CWE id) and the suggestions
that are true but not worth a reviewer's time (noise).  Every suggestion is then
one of:

- correct: its rule, or a rule folded into it, names the CWE of a label on its element;
- noise: listed as such;
- wrong: neither.

The report gives precision and recall per rule and overall, and lists every
missed label.  It always exits 0: it is a report, not a gate; the test suite
checks the goals (tests/test_rule_quality.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tm_docs.analysis.rules import Rule
from tm_docs.analysis.suggest import Suggestion, suggestions
from tm_docs.load.models import load_models
from tm_docs.load.rules import load_rules

CORPUS = Path(__file__).resolve().parent / "corpus"
GOALS = {"recall": 0.80, "wrong": 0.05, "noise": 0.20}


@dataclass
class RuleScore:
    fired: int = 0
    correct: int = 0
    noise: int = 0
    wrong: int = 0
    labels: int = 0  # labels naming one of the rule's CWE ids
    found: int = 0  # of those, found by this rule

    @property
    def precision(self) -> float | None:
        return self.correct / self.fired if self.fired else None

    @property
    def recall(self) -> float | None:
        return self.found / self.labels if self.labels else None


@dataclass
class Report:
    suggestions: int = 0
    correct: int = 0
    noise: int = 0
    wrong: int = 0
    labels: int = 0
    found: int = 0
    rules: dict[str, RuleScore] = field(default_factory=dict)
    misses: list[str] = field(default_factory=list)
    wrongs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def rate(self, part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    def summary(self) -> dict[str, float]:
        return {
            "precision": self.rate(self.correct, self.suggestions),
            "recall": self.rate(self.found, self.labels),
            "wrong": self.rate(self.wrong, self.suggestions),
            "noise": self.rate(self.noise, self.suggestions),
        }

    def meets_goals(self) -> bool:
        numbers = self.summary()
        return (
            numbers["recall"] >= GOALS["recall"]
            and numbers["wrong"] <= GOALS["wrong"]
            and numbers["noise"] <= GOALS["noise"]
        )


def _weaknesses(suggestion: Suggestion, rules: dict[str, Rule]) -> set[int]:
    ids = set(suggestion.rule.cwe)
    for folded in suggestion.folded:
        ids |= set(rules[folded].cwe)
    return ids


def evaluate(corpus: Path = CORPUS) -> Report:
    """Score the packaged rules on the corpus."""
    ruleset = load_rules()
    rules = ruleset.by_id()
    report = Report(rules={rule_id: RuleScore() for rule_id in sorted(rules)})
    report.problems += [str(p) for p in ruleset.problems]
    loaded = load_models([corpus / "models"])
    report.problems += [str(p) for p in loaded.problems]
    labels: dict[str, Any] = yaml.safe_load((corpus / "labels.yaml").read_text("utf-8"))
    by_id = {m.model.id: m.model for m in loaded.models}
    for model_id in sorted(set(by_id) - set(labels["models"])):
        report.problems.append(f"model '{model_id}' has no labels")
    for model_id, entry in sorted(labels["models"].items()):
        model = by_id.get(model_id)
        if model is None:
            report.problems.append(f"labels name model '{model_id}', which is not in the corpus")
            continue
        expected = [(str(e["element"]), int(e["cwe"]), str(e["why"])) for e in entry["expected"]]
        noise = {str(n["suggestion"]) for n in entry.get("noise") or []}
        found = suggestions(model, ruleset.rules)
        keys = {s.key for s in found}
        report.problems += [
            f"{model_id}: noise label '{key}' matches no suggestion" for key in noise - keys
        ]
        hit: set[int] = set()
        for suggestion in found:
            score = report.rules[suggestion.rule.id]
            score.fired += 1
            report.suggestions += 1
            weaknesses = _weaknesses(suggestion, rules)
            matched = [
                i
                for i, (element, cwe, _) in enumerate(expected)
                if element == suggestion.subject.id and cwe in weaknesses
            ]
            if matched:
                score.correct += 1
                report.correct += 1
                hit.update(matched)
            elif suggestion.key in noise:
                score.noise += 1
                report.noise += 1
            else:
                score.wrong += 1
                report.wrong += 1
                report.wrongs.append(f"{model_id}: {suggestion.key}")
        for i, (element, cwe, why) in enumerate(expected):
            report.labels += 1
            if i in hit:
                report.found += 1
            else:
                report.misses.append(f"{model_id}: CWE-{cwe} on {element} ({why})")
            for rule_id, rule in rules.items():
                if cwe not in rule.cwe:
                    continue
                report.rules[rule_id].labels += 1
                if any(
                    s.subject.id == element and (s.rule.id == rule_id or rule_id in s.folded)
                    for s in found
                ):
                    report.rules[rule_id].found += 1
    return report


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f} %"


def render(report: Report) -> str:
    lines = ["Rule quality on the labelled corpus", ""]
    lines.append(
        f"{'rule':<46} {'fired':>5} {'right':>5} {'noise':>5} {'wrong':>5} "
        f"{'precision':>9} {'recall':>7}"
    )
    for rule_id, score in report.rules.items():
        lines.append(
            f"{rule_id:<46} {score.fired:>5} {score.correct:>5} {score.noise:>5} "
            f"{score.wrong:>5} {_percent(score.precision):>9} {_percent(score.recall):>7}"
        )
    numbers = report.summary()
    lines += [
        "",
        f"overall: {report.suggestions} suggestions, {report.correct} correct, "
        f"{report.noise} noise, {report.wrong} wrong; "
        f"{report.found} of {report.labels} expected weaknesses found",
        f"precision {_percent(numbers['precision'])}, recall {_percent(numbers['recall'])} "
        f"(goal ≥ {_percent(GOALS['recall'])}), wrong {_percent(numbers['wrong'])} "
        f"(goal ≤ {_percent(GOALS['wrong'])}), noise {_percent(numbers['noise'])} "
        f"(goal ≤ {_percent(GOALS['noise'])}): "
        + ("goals met" if report.meets_goals() else "goals NOT met"),
    ]
    if report.misses:
        lines += ["", "missed:", *(f"  {m}" for m in report.misses)]
    if report.wrongs:
        lines += ["", "wrong:", *(f"  {w}" for w in report.wrongs)]
    if report.problems:
        lines += ["", "problems with the corpus:", *(f"  {p}" for p in report.problems)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="corpus folder")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)
    report = evaluate(args.corpus)
    if args.json:
        document = {
            **report.summary(),
            "meets_goals": report.meets_goals(),
            "suggestions": report.suggestions,
            "labels": report.labels,
            "misses": report.misses,
            "wrong_suggestions": report.wrongs,
            "problems": report.problems,
            "rules": {
                rule_id: {
                    "fired": s.fired,
                    "correct": s.correct,
                    "noise": s.noise,
                    "wrong": s.wrong,
                    "precision": s.precision,
                    "recall": s.recall,
                }
                for rule_id, s in report.rules.items()
            },
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
