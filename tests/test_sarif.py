"""`validate` and `check` as SARIF 2.1.0: valid against the official schema, one
result per problem at its exact place, levels from the policy, escaped model
text, and fingerprints that survive a commit moving the findings down the file.

The schema lives beside the repository (`../shared/interop-samples/sarif/`, as
the interop samples do); the tests that need it are skipped without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from .conftest import EXAMPLE_MODELS, HEADER, REPO
from .gitrepo import GitRepo

SCHEMA = REPO.parent / "shared" / "interop-samples" / "sarif" / "sarif-schema-2.1.0.json"
needs_schema = pytest.mark.skipif(
    not SCHEMA.is_file(), reason="the SARIF schema ../shared/interop-samples/sarif is absent"
)


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tm_docs.cli", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )


def _sarif(root: Path, *args: str) -> dict[str, Any]:
    proc = _run(root, *args, "--format", "sarif")
    assert proc.returncode in (0, 1), proc.stderr
    document: dict[str, Any] = json.loads(proc.stdout)
    return document


def _valid(document: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(document), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def _results(document: dict[str, Any]) -> list[dict[str, Any]]:
    (run,) = document["runs"]
    results: list[dict[str, Any]] = run["results"]
    return results


def _place(result: dict[str, Any]) -> tuple[str, int, int]:
    (location,) = result["locations"]
    physical = location["physicalLocation"]
    region = physical["region"]
    return physical["artifactLocation"]["uri"], region["startLine"], region["startColumn"]


@pytest.fixture
def example(tmp_path: Path) -> Path:
    root = tmp_path / "example"
    (root / "models").mkdir(parents=True)
    for model in EXAMPLE_MODELS.glob("*.yaml"):
        (root / "models" / model.name).write_text(model.read_text(encoding="utf-8"))
    return root


@needs_schema
def test_check_of_the_examples_is_valid_sarif_with_one_result_per_finding(example: Path) -> None:
    document = _sarif(example, "check", "--fail-on", "untriaged")
    _valid(document)
    findings = json.loads(
        _run(example, "check", "--fail-on", "untriaged", "--format", "json").stdout
    )
    results = _results(document)
    assert len(results) == len(findings["findings"]) > 20
    # The same places as the JSON report, the same order; errors exactly where it fails.
    for result, finding in zip(results, findings["findings"], strict=True):
        assert _place(result) == (finding["file"], finding["line"], finding["column"])
        assert result["level"] == ("error" if finding["fails"] else "warning")
        assert result["properties"]["policy"] == finding["policy"]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]
        assert uri["uriBaseId"] == "%SRCROOT%" and not uri["uri"].startswith("/")
    assert {r["level"] for r in results} == {"error", "warning"}
    # Every result names a rule of the driver, by id and by index.
    (run,) = document["runs"]
    rules = run["tool"]["driver"]["rules"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    # Suggested threats: the rule's own text as help, its CWE and CAPEC as tags and taxa.
    sql = next(r for r in rules if r["id"] == "suggested-threat/unauthenticated-into-more-trusted")
    assert "authenticate" in sql["help"]["text"].lower()
    assert "external/cwe/cwe-306" in sql["properties"]["tags"]
    assert "asvs:4.0.3:V1.2.2" in sql["properties"]["tags"]
    taxa = {t["name"]: {x["id"] for x in t["taxa"]} for t in run["taxonomies"]}
    assert "306" in taxa["CWE"]
    targets = {
        (r["target"]["toolComponent"]["name"], r["target"]["id"]) for r in sql["relationships"]
    }
    assert ("CWE", "306") in targets


@needs_schema
def test_levels_follow_the_policy(example: Path) -> None:
    never = _results(_sarif(example, "check", "--fail-on", "none"))
    assert never and {r["level"] for r in never} == {"warning"}
    coverage = _results(_sarif(example, "check", "--fail-on", "coverage"))
    assert {r["level"] for r in coverage if r["ruleId"] == "coverage"} == {"error"}
    assert {r["level"] for r in coverage if r["ruleId"] != "coverage"} == {"warning"}


@needs_schema
def test_validate_reports_each_problem_of_the_malformed_catalogue(tmp_path: Path) -> None:
    catalogue = REPO / "tests" / "malformed"
    document = _sarif(catalogue, "validate", ".")
    _valid(document)
    text = _run(catalogue, "validate", ".").stdout.splitlines()
    results = _results(document)
    assert len(results) == len(text) > 50
    # From the repository's root (the catalogue is inside this repository's work tree,
    # unless the tests run from an unpacked copy without git).
    inside = subprocess.run(["git", "-C", str(catalogue), "rev-parse"], capture_output=True)
    prefix = "tests/malformed/" if inside.returncode == 0 else ""
    for result, line in zip(results, text, strict=True):
        uri, row, column = _place(result)
        assert uri.startswith(prefix)
        shown = uri.removeprefix(prefix)
        assert line.startswith(f"{shown}:{row}:{column}: "), (line, uri, row, column)
        assert result["level"] == "error"


@needs_schema
def test_paths_are_relative_to_the_repository_root_from_a_subfolder(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    body = HEADER.format(id="a") + "flows: [1]\n"
    repo.commit("A broken model", "2026-03-01T10:00:00Z", {"svc/models/a b#1.yaml": body})
    from_top = _results(_sarif(repo.root, "validate", "svc/models"))
    from_sub = _results(_sarif(repo.root / "svc", "validate"))
    assert _place(from_top[0])[0] == _place(from_sub[0])[0] == "svc/models/a%20b%231.yaml"
    # The same problem is the same alert whichever folder the command ran in.
    assert from_top[0]["partialFingerprints"] == from_sub[0]["partialFingerprints"]


@needs_schema
def test_check_of_broken_models_is_still_one_sarif_document(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "a.yaml").write_text(HEADER.format(id="a") + "flows: [1]\n", encoding="utf-8")
    proc = _run(tmp_path, "check", "--format", "sarif")
    assert proc.returncode == 1
    document = json.loads(proc.stdout)
    _valid(document)
    (result,) = _results(document)
    assert result["ruleId"] == "model-error" and _place(result) == ("models/a.yaml", 5, 9)


HOSTILE = HEADER.format(id="hostile").replace(
    "title: Example", 'title: "[click](https://evil.example) \\\\ ](1) @admin <b>x</b>"'
) + textwrap.dedent(
    """\
    components:
      - id: api
        title: "[pwn](javascript:alert(1)) \\u202e \\u0007"
        kind: process
    flows:
      - id: f1
        source: api
        destination: api
        encrypted: "[x](1)"
    """
)


@needs_schema
def test_hostile_model_text_is_inert_in_messages(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "hostile.yaml").write_text(HOSTILE, encoding="utf-8")
    proc = _run(tmp_path, "validate", "--format", "sarif")
    document = json.loads(proc.stdout)
    _valid(document)
    texts = [r["message"]["text"] for r in _results(document)]
    assert len(texts) == 2  # the title with controls, the text where a boolean belongs
    assert any("[x](1)" in t.replace("\\", "") for t in texts)  # quoted, escaped
    assert any("\\u202e" in t and "\\x07" in t for t in texts)  # visible, not raw
    for text in texts:
        # No unescaped bracket: SARIF reads '[x](1)' as a link to a related location.
        stripped = text.replace("\\\\", "").replace("\\[", "").replace("\\]", "")
        assert "[" not in stripped and "]" not in stripped
    assert all(ch >= " " for ch in proc.stdout.replace("\n", ""))


RULE_FILE = """\
rules:
  - id: hostile-rule
    title: "[click](https://evil.example) <img src=x onerror=alert(1)> @everyone"
    applies_to: component
    when: {kind: process}
    categories: [spoofing]
    cwe: [287]
    impact: 5
    likelihood: 5
    explanation: "Text with ](javascript:alert(1)) and <script>alert(1)</script> #1"
    mitigation: "Mention @someone and link www.evil.example"
"""


@needs_schema
def test_hostile_rule_text_is_inert_in_the_help(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "m.yaml").write_text(
        HEADER.format(id="m") + "components:\n  - id: api\n    title: API\n    kind: process\n",
        encoding="utf-8",
    )
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "hostile.yaml").write_text(RULE_FILE, encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: t\nplugins:\n  - tm-docs:\n      rules: rules\n", encoding="utf-8"
    )
    document = _sarif(tmp_path, "check")
    _valid(document)
    (run,) = document["runs"]
    rule = next(r for r in run["tool"]["driver"]["rules"] if r["id"].endswith("hostile-rule"))
    markdown = rule["help"]["markdown"]
    for active in ("<img", "<script", "](", "@everyone", "@someone", "www.evil", "#1"):
        assert active not in markdown, active
    short = rule["shortDescription"]["text"]
    assert "\\[click\\]" in short


def _model(extra_components: int) -> str:
    padding = "".join(
        f"  - id: pad{i}\n    title: Padding {i}\n    kind: process\n"
        f"    description: |\n      A component\n      added above.\n"
        for i in range(extra_components)
    )
    return (
        HEADER.format(id="shop")
        + textwrap.dedent(
            """\
        boundaries:
          - id: inside
            title: Inside
            trust: internal
        components:
        """
        )
        + padding
        + textwrap.dedent(
            """\
          - id: web
            title: Web
            kind: external_entity
          - id: api
            title: API
            kind: process
            boundary: inside
        flows:
          - id: f1
            source: web
            destination: api
        threats:
          - id: T1
            title: Takeover
            categories: [spoofing]
            targets: [api]
            impact: 5
            likelihood: 5
        """
        )
    )


@needs_schema
def test_fingerprints_survive_a_commit_that_moves_the_findings(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("A model", "2026-03-01T10:00:00Z", {"models/shop.yaml": _model(0)})
    before = _results(_sarif(repo.root, "check", "--fail-on", "untriaged"))
    repo.commit("Two components above", "2026-03-02T10:00:00Z", {"models/shop.yaml": _model(2)})
    after = _results(_sarif(repo.root, "check", "--fail-on", "untriaged"))

    def keyed(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        prints = {r["partialFingerprints"]["tmDocsFinding/v1"]: r for r in results}
        assert len(prints) == len(results), "each finding has its own fingerprint"
        return prints

    old, new = keyed(before), keyed(after)
    assert {r["ruleId"] for r in before} >= {"critical-unplanned", "coverage"}
    assert any(r["ruleId"].startswith("suggested-threat/") for r in before)
    # Every earlier finding is found again under the same fingerprint, further down.
    for key, result in old.items():
        assert key in new, result["message"]["text"]
        assert _place(new[key])[1] > _place(result)[1]
        assert new[key]["ruleId"] == result["ruleId"]
    # The padding components bring their own findings, with new fingerprints.
    assert len(new) > len(old)
    assert "primaryLocationLineHash" not in json.dumps(after)  # left to the uploader


@needs_schema
def test_fingerprints_of_model_problems_ignore_the_lines_they_name(tmp_path: Path) -> None:
    twice = (
        "components:\n"
        "  - {id: api, title: A, kind: process}\n"
        "  - {id: api, title: B, kind: process}\n"
    )
    repo = GitRepo(tmp_path / "repo")
    repo.commit("Twice", "2026-03-01T10:00:00Z", {"models/a.yaml": HEADER.format(id="a") + twice})
    (before,) = _results(_sarif(repo.root, "validate"))
    assert "at line 6" in before["message"]["text"]
    shifted = HEADER.format(id="a") + "description: moved\nreviewers: [x]\n" + twice
    repo.commit("Two lines above", "2026-03-02T10:00:00Z", {"models/a.yaml": shifted})
    (after,) = _results(_sarif(repo.root, "validate"))
    assert "at line 8" in after["message"]["text"]
    assert _place(after)[1] == _place(before)[1] + 2
    assert after["partialFingerprints"] == before["partialFingerprints"]
