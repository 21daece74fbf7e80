"""`tm-docs check` and `tm-docs backlog`: policies, exit codes, formats, configuration."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tm_docs.cli import main

from .sites import build, make_site

MODEL = """\
format_version: 1
id: shop
title: Shop
owner: team-a
boundaries:
  - {id: internet, title: Internet, trust: untrusted}
  - {id: dc, title: Data centre, trust: internal}
components:
  - {id: user, title: User, kind: external_entity, boundary: internet}
  - {id: api, title: API, kind: process, boundary: dc, rate_limited: true}
flows:
  - id: f1
    source: user
    destination: api
    authentication: {method: jwt, checks: [signature, expiry, issuer]}
    encrypted: true
threats:
  - id: T1
    title: Forged token
    categories: [spoofing]
    targets: [f1]
    impact: 5
    likelihood: 4
    mitigations: [M1]
mitigations:
  - {id: M1, title: Check audience, owner: api-team, status: proposed}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "shop.yaml").write_text(MODEL)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, list(args))


def test_default_policy_fails_on_open_critical_threat_without_a_plan(project: Path) -> None:
    result = run("check")
    assert result.exit_code == 1
    assert (
        "models/shop.yaml:18:9: threat 'T1' (Forged token) is open with critical risk 20 and no "
        "mitigation planned, in progress or done [critical-unplanned]"
    ) in result.stdout
    # The untriaged suggestion is reported, but only as a warning.
    assert (
        "models/shop.yaml:12:9: warning: suggested threat 'token-checks-incomplete@f1'"
    ) in result.stdout
    assert "FAIL: 1 finding that fail the check (fail on: critical-unplanned)" in result.stderr


def test_planning_the_mitigation_passes_the_default_policy(project: Path) -> None:
    model = project / "models" / "shop.yaml"
    model.write_text(MODEL.replace("status: proposed", "status: planned"))
    result = run("check")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1].startswith("OK: 0 findings that fail the check")


def test_policy_from_the_command_line_and_from_mkdocs_yml(project: Path) -> None:
    model = project / "models" / "shop.yaml"
    model.write_text(MODEL.replace("status: proposed", "status: planned"))
    assert run("check", "--fail-on", "untriaged").exit_code == 1
    (project / "mkdocs.yml").write_text(
        yaml.safe_dump(
            {"site_name": "x", "plugins": [{"tm-docs": {"check": {"fail_on": ["untriaged"]}}}]}
        )
    )
    assert run("check").exit_code == 1
    # Accepting the suggestion triages it.
    model.write_text(
        MODEL.replace("status: proposed", "status: planned").replace(
            "    mitigations: [M1]\n",
            "    mitigations: [M1]\n    from_suggestion: token-checks-incomplete@f1\n",
        )
    )
    result = run("check", "--format", "json")
    report = json.loads(result.stdout)
    assert report["models"][0]["untriaged"] == []
    assert result.exit_code == 0, result.stdout
    assert run("check", "--fail-on", "coverage").exit_code == 1
    assert run("check", "--fail-on", "none").exit_code == 0


def test_stale_dismissal_is_found(project: Path) -> None:
    model = project / "models" / "shop.yaml"
    model.write_text(
        MODEL.replace("status: proposed", "status: planned")
        + "dismissed:\n  - {suggestion: unsigned-webhook@f1, reason: It is not a webhook.}\n"
    )
    result = run("check", "--fail-on", "stale-dismissals")
    assert result.exit_code == 1
    assert (
        "models/shop.yaml:28:18: dismissal of 'unsigned-webhook@f1' matches no current suggestion"
    ) in result.stdout


def test_invalid_models_fail_check_before_any_analysis(project: Path) -> None:
    (project / "models" / "shop.yaml").write_text(MODEL.replace("kind: process", "kind: proces"))
    result = run("check")
    assert result.exit_code == 1
    assert "is not one of the allowed values (did you mean 'process'?)" in result.stdout


def test_backlog_formats(project: Path) -> None:
    table = run("backlog")
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0] == "owner: api-team"
    assert (
        table.stdout.splitlines()[1]
        == "    1. 20 critical M1 Check audience [proposed]  (T1; shop)"
    )
    rows = list(csv.DictReader(io.StringIO(run("backlog", "--format", "csv").stdout)))
    assert [(r["rank"], r["mitigation"], r["risk"], r["threats"]) for r in rows] == [
        ("1", "M1", "20", "T1")
    ]
    data = json.loads(run("backlog", "--format", "json").stdout)
    assert data["items"][0]["band"] == "critical"
    markdown = run("backlog", "--format", "markdown").stdout
    assert markdown.startswith("## api-team\n")
    assert "| 1 | 20 critical | M1 Check audience | proposed |" in markdown


def test_bad_options_in_mkdocs_yml_are_usage_errors(project: Path) -> None:
    (project / "mkdocs.yml").write_text(
        "site_name: x\nplugins:\n  - tm-docs:\n      risk_bands: {medium: 9, high: 4}\n"
    )
    result = run("check")
    assert result.exit_code == 2
    assert "risk band thresholds must rise" in result.stderr


def test_site_uses_custom_rules_and_chart_and_warns_on_stale_dismissals(tmp_path: Path) -> None:
    rules = tmp_path / "site" / "our-rules"
    rules.mkdir(parents=True)
    (rules / "ours.yaml").write_text(
        yaml.safe_dump(
            {
                "rules": [
                    {
                        "id": "our-api-rule",
                        "title": "Our own concern about APIs",
                        "applies_to": "component",
                        "when": {"kind": "process"},
                        "categories": ["tampering"],
                        "impact": 2,
                        "likelihood": 2,
                        "explanation": "Because.",
                        "mitigation": "Do the thing.",
                    }
                ]
            }
        )
    )
    models = tmp_path / "in"
    models.mkdir()
    (models / "shop.yaml").write_text(
        MODEL + "dismissed:\n  - {suggestion: unsigned-webhook@f1, reason: It is not one.}\n"
    )
    config = make_site(
        tmp_path / "site",
        models,
        plugin={
            "rules": "our-rules",
            "diagrams": False,
            "stride_per_element": {"flow": ["tampering"]},
        },
    )
    for path in (tmp_path / "site" / "models").glob("*.yaml"):
        if path.name != "shop.yaml":
            path.unlink()
    proc = build(config)
    assert proc.returncode == 0, proc.stderr
    assert "dismissal of 'unsigned-webhook@f1' matches no current suggestion" in proc.stderr
    assert build(config, "--strict").returncode == 1
    page = (tmp_path / "site/site/threat-models/shop/index.html").read_text()
    assert "Our own concern about APIs" in page
    coverage = (tmp_path / "site/site/threat-models/coverage/index.html").read_text()
    assert "our&#45;api&#45;rule" in coverage or "our-api-rule" in coverage
