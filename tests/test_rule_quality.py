"""The rule-quality benchmark runs on its labelled corpus and meets its goals.

The benchmark (benchmarks/rule_quality.py) is a report; this test runs it the way
CI does, checks that it reports every rule, and holds the overall numbers to the
goals in benchmarks/README.md.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tm_docs.load.models import load_models
from tm_docs.load.rules import load_rules

from .conftest import REPO

SCRIPT = REPO / "benchmarks" / "rule_quality.py"
CORPUS = REPO / "benchmarks" / "corpus"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def test_the_corpus_models_are_valid() -> None:
    loaded = load_models([CORPUS / "models"])
    assert [str(p) for p in loaded.problems] == []
    assert len(loaded.models) >= 5


def test_the_report_names_every_rule_and_the_overall_numbers() -> None:
    result = _run()
    assert result.returncode == 0, result.stderr
    for rule in load_rules().rules:
        assert f"\n{rule.id} " in result.stdout
    assert "overall:" in result.stdout
    assert "goals met" in result.stdout


def test_the_rules_meet_the_goals_on_the_corpus() -> None:
    result = _run("--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["problems"] == []
    assert report["suggestions"] > 40 and report["labels"] > 40
    assert report["recall"] >= 0.80, report["misses"]
    assert report["wrong"] <= 0.05, report["wrong_suggestions"]
    assert report["noise"] <= 0.20
    assert report["meets_goals"] is True
