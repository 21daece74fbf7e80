"""Golden test of the analysis of the example models: coverage, suggestions, backlog, controls.

The expected text is tests/golden/example-analysis.txt.  After an intended
change to the rules, the facts or the example models, regenerate it with
`TM_DOCS_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_example_analysis.py`
and review the diff like any other change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from benchmarks.portfolio_repo import model_text
from tm_docs.analysis.report import analyse
from tm_docs.analysis.settings import Settings
from tm_docs.analysis.stored import decode, encode
from tm_docs.analysis.suggest import Triage
from tm_docs.load.models import load_models
from tm_docs.load.rules import load_rules

from .conftest import EXAMPLE_MODELS, REPO

GOLDEN = REPO / "tests" / "golden" / "example-analysis.txt"


def _summary() -> str:
    result = load_models([EXAMPLE_MODELS])
    assert result.ok, [str(p) for p in result.problems]
    report = analyse(result.models, Settings(), load_rules())
    lines = []
    for model in report.models:
        coverage = model.coverage
        lines.append(
            f"{model.model.id}: coverage {coverage.percent}% "
            f"({len(coverage.cells) - len(coverage.gaps)}/{len(coverage.cells)})"
        )
        for suggestion in model.suggestions:
            lines.append(f"  {suggestion.triage.value:<10} {suggestion.key}")
        for warning in model.warnings:
            lines.append(f"  warning    {warning.message}")
    lines.append(f"backlog: {' '.join(i.mitigation.id for i in report.portfolio.backlog)}")
    for framework in report.controls:
        lines.append(f"controls of {framework.id}:")
        for control in framework.controls:
            uses = " ".join(f"{u.model.id}/{u.mitigation.id}" for u in control.uses)
            lines.append(f"  {control.control.identifier}: {uses}")
    return "\n".join(lines) + "\n"


def test_example_analysis_matches_the_golden_file() -> None:
    text = _summary()
    if os.environ.get("TM_DOCS_UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_article_threats_are_accepted_suggestions() -> None:
    text = GOLDEN.read_text(encoding="utf-8")
    for key in (
        "token-checks-incomplete@f1",
        "unsigned-webhook@f7",
        "unbounded-queue-consumer@payment-worker",
    ):
        assert f"  accepted   {key}\n" in text


def test_an_analysis_read_back_from_its_cache_entry_is_the_one_made(tmp_path: Path) -> None:
    """Every field of every suggestion (each triage state, the accepting threat, the
    dismissal's reason, the folded rules) and of the coverage survives the JSON of a
    cache entry (`analysis/stored.py`), and comes back as the model's own objects."""
    # The example models, and two of the benchmark's portfolio (rules folded into others).
    (tmp_path / "portfolio.yaml").write_text(model_text(1), encoding="utf-8")
    (tmp_path / "portfolio-2.yaml").write_text(model_text(2), encoding="utf-8")
    result = load_models([EXAMPLE_MODELS, tmp_path])
    assert result.ok, [str(p) for p in result.problems]
    rules = load_rules()
    report = analyse(result.models, Settings(), rules)
    found = [s for m in report.models for s in m.suggestions]
    assert {s.triage for s in found} == set(Triage)
    assert any(s.folded for s in found) and any(s.reason for s in found)
    assert any(c.not_applicable for m in report.models for _, c in m.coverage.cells)
    for made in report.models:
        text = json.dumps(encode(made.coverage, made.suggestions, made.warnings, rules.rules))
        coverage, suggestions, warnings = decode(
            json.loads(text), made.model, rules.rules, report.portfolio.topology(made.model)
        )
        assert (coverage, suggestions, warnings) == (
            made.coverage,
            made.suggestions,
            made.warnings,
        )
        threats = {id(t) for t in made.model.threats}
        assert all(s.threat is None or id(s.threat) in threats for s in suggestions)
        assert all(id(t) in threats for _, cell in coverage.cells for t in cell.threats)
