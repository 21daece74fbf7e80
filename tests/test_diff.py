"""`tm-docs diff`: the semantic diff of the models between two git revisions."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from tm_docs.analysis.diff import diff_models
from tm_docs.analysis.risk import RiskBands
from tm_docs.cli import main
from tm_docs.model import ThreatModel

from .conftest import EXAMPLE_MODELS, REPO
from .gitrepo import GitRepo

GOLDEN = REPO / "tests" / "golden" / "diff-example.md"
SCHEMA = REPO / "docs" / "schema" / "review-v1.json"


@pytest.fixture
def example(tmp_path: Path) -> GitRepo:
    """The example repository: its models and mkdocs.yml, committed on main."""
    repo = GitRepo(tmp_path / "example")
    shutil.copytree(EXAMPLE_MODELS, repo.root / "models")
    shutil.copy(REPO / "mkdocs.yml", repo.root / "mkdocs.yml")
    repo.commit("The example models", "2026-06-01T10:00:00Z")
    repo.git("checkout", "-q", "-b", "feature")
    return repo


def run(repo: GitRepo, *args: str):  # type: ignore[no-untyped-def]
    old = Path.cwd()
    os.chdir(repo.root)
    try:
        return CliRunner().invoke(main, ["diff", *args])
    finally:
        os.chdir(old)


NEW_FLOW = """\
  - id: f99
    title: Legacy order lookup
    source: customer-client
    destination: order-service
    protocol: HTTP
    authentication: {method: none}
    encrypted: false
"""


def _edit(repo: GitRepo, path: str, old: str, new: str) -> None:
    target = repo.root / path
    text = target.read_text(encoding="utf-8")
    assert old in text, old
    target.write_text(text.replace(old, new, 1), encoding="utf-8")


def _feature_change(repo: GitRepo) -> None:
    # An unauthenticated flow from the internet in checkout ...
    _edit(repo, "models/checkout.yaml", "\nflows:\n", "\nflows:\n" + NEW_FLOW)
    # ... and a change to a file the identity model watches, without touching it.
    repo.write(
        "example/services/admin-console/roles.ts", 'export const roles = { admin: ["*"] };\n'
    )
    repo.commit("Legacy lookup and console roles", "2026-06-02T10:00:00Z")


def test_first_lines_name_the_new_ingress_and_the_stale_model(example: GitRepo) -> None:
    _feature_change(example)
    result = run(example, "main", "HEAD")
    assert result.exit_code == 0, result.output  # no policy asked for
    lines = result.stdout.splitlines()
    assert lines[0] == "Threat model review: main -> HEAD"
    head = "\n".join(lines[1:6])
    assert (
        "new ingress point in checkout: f99: customer-client → order-service (authentication: none)"
        in head
    )
    assert (
        "this change makes identity stale: it changes example/services/admin-console/roles.ts"
        in head
    )
    # Exit codes follow the policy: the new flow brings a critical suggested threat.
    assert run(example, "main", "HEAD", "--fail-on", "high").exit_code == 1
    assert run(example, "main", "HEAD", "--fail-on", "none").exit_code == 0


def test_markdown_for_a_pull_request_matches_the_golden_file(example: GitRepo) -> None:
    _feature_change(example)
    result = run(example, "main", "--format", "markdown")  # HEAD: the working tree
    assert result.exit_code == 0, result.output
    if os.environ.get("TM_DOCS_UPDATE_GOLDEN"):
        GOLDEN.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == GOLDEN.read_text(encoding="utf-8")


def test_each_kind_of_change_is_reported(example: GitRepo) -> None:
    # Weaken a crossing flow, move a component, change a threat's status and risk,
    # add a mitigation, remove an asset, add a threat, rename a model file.
    _edit(example, "models/checkout.yaml", "      method: jwt\n", "      method: none\n")
    # T-NOT-01 is open at 3 x 4; its likelihood goes up to 5.
    _edit(example, "models/notifications.yaml", "likelihood: 4\n", "likelihood: 5\n")
    example.git("mv", "models/identity.yaml", "models/identity-and-admin.yaml")
    example.commit("Many changes", "2026-06-03T10:00:00Z")
    result = run(example, "main", "HEAD", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    models = {m["model_id"]: m for m in document["models"]}
    assert models["checkout"]["weakened"] == ["f1: lost authentication"]
    changed = [c for c in models["checkout"]["changes"] if c["id"] == "f1"]
    assert changed and "authentication.method: jwt → none" in changed[0]["details"]
    assert models["identity"]["status"] == "renamed"
    assert models["identity"]["new_path"] == "models/identity-and-admin.yaml"
    assert models["notifications"]["risk_rises"] == [
        {
            "threat_id": "T-NOT-01",
            "title": models["notifications"]["risk_rises"][0]["title"],
            "risk": 15,
            "band": "critical",
            "was": 12,
        }
    ]
    assert run(example, "main", "HEAD", "--fail-on", "high").exit_code == 1


def test_added_and_removed_models_and_elements(example: GitRepo) -> None:
    (example.root / "models" / "notifications.yaml").unlink()
    _edit(example, "models/checkout.yaml", "\nflows:\n", "\nflows:\n" + NEW_FLOW)
    example.commit("Drop notifications, add a flow", "2026-06-04T10:00:00Z")
    result = run(example, "main", "HEAD", "--format", "json")
    models = {m["model_id"]: m for m in json.loads(result.stdout)["models"]}
    assert models["notifications"]["status"] == "removed"
    added = [c for c in models["checkout"]["changes"] if c["action"] == "added"]
    assert [(c["kind"], c["id"]) for c in added] == [("flow", "f99")]
    assert "unauthenticated-into-more-trusted@f99" in models["checkout"]["suggestions_added"]


def test_before_and_after_diagrams(example: GitRepo, tmp_path: Path) -> None:
    _feature_change(example)
    out = tmp_path / "diagrams"
    result = run(example, "main", "HEAD", "--diagrams", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["checkout-after.svg", "checkout-before.svg"]
    after = (out / "checkout-after.svg").read_text()
    assert "#2e7d32" in after.lower()  # the added flow, in green


def test_unknown_revision_is_a_usage_error(example: GitRepo) -> None:
    result = run(example, "no-such-branch")
    assert result.exit_code == 2
    assert "'no-such-branch' is not a commit of this repository" in result.stderr


def test_a_change_that_breaks_a_model_fails_and_says_so(example: GitRepo) -> None:
    _edit(example, "models/checkout.yaml", "kind: process", "kind: proces")
    result = run(example, "main")
    assert result.exit_code == 1
    assert "checkout no longer loads: fix models/checkout.yaml" in result.stdout
    assert "is not one of the allowed values (did you mean 'process'?)" in result.stderr


def test_moves_statuses_mitigations_and_new_crossings(example: GitRepo) -> None:
    checkout = "models/checkout.yaml"
    # The order service moves from the VPC into the payments zone.
    _edit(
        example,
        checkout,
        "    kind: process\n    boundary: vpc\n",
        "    kind: process\n    boundary: payments-zone\n",
    )
    # A planned mitigation is done; a false positive is reopened.
    text = (example.root / checkout).read_text()
    start = text.index("  - id: M-CHK-02")
    text = text[:start] + text[start:].replace("status: planned", "status: done", 1)
    start = text.index("  - id: T-CHK-07")
    text = text[:start] + text[start:].replace("status: false_positive", "status: open", 1)
    # A new mitigation, and a new flow between zones that is no ingress point.
    text = text.replace(
        "\nmitigations:\n",
        "\nmitigations:\n  - {id: M-NEW, title: Rotate keys, owner: payments, status: proposed}\n",
        1,
    )
    text = text.replace(
        "\nflows:\n",
        "\nflows:\n  - {id: f98, source: orders-db, destination: secrets-manager}\n",
        1,
    )
    (example.root / checkout).write_text(text)
    example.commit("Rework checkout", "2026-06-05T10:00:00Z")
    document = json.loads(run(example, "main", "HEAD", "--format", "json").stdout)
    jsonschema.validate(document, json.loads(SCHEMA.read_text()))
    (model,) = [m for m in document["models"] if m["model_id"] == "checkout"]
    changes = {(c["action"], c["kind"], c["id"]): c["details"] for c in model["changes"]}
    assert changes[("changed", "component", "order-service")] == ["boundary: vpc → payments-zone"]
    assert changes[("changed", "mitigation", "M-CHK-02")] == ["status: planned → done"]
    assert "status: false_positive → open" in changes[("changed", "threat", "T-CHK-07")]
    assert ("added", "mitigation", "M-NEW") in changes
    assert model["new_crossings"] == ["f98: orders-db → secrets-manager crosses payments-zone"]
    assert [r["threat_id"] for r in model["risk_rises"]] == ["T-CHK-07"]


def test_the_facts_rules_need_show_in_the_semantic_diff() -> None:
    """New model facts are reported field by field, nested authentication facts included."""
    base = {
        "format_version": 1,
        "id": "shop",
        "title": "Shop",
        "owner": "team",
        "components": [
            {"id": "staff", "title": "Staff", "kind": "external_entity"},
            {"id": "api", "title": "API", "kind": "process"},
        ],
        "flows": [
            {
                "id": "f1",
                "source": "staff",
                "destination": "api",
                "authentication": {"method": "oidc"},
            }
        ],
    }
    old = ThreatModel.model_validate(base)
    changed = copy.deepcopy(base)
    changed["components"][1].update({"accepts": ["xml"], "delivery_role": "build_server"})
    changed["flows"][0]["authentication"].update({"client": "human", "second_factor": True})
    new = ThreatModel.model_validate(changed)
    details = {c.id: c.details for c in diff_models(old, new, RiskBands()).changes}
    assert details["api"] == ("accepts: not set → [xml]", "delivery_role: not set → build_server")
    assert details["f1"] == (
        "authentication.client: not set → human",
        "authentication.second_factor: not set → True",
    )


def test_controls_added_and_removed_show_in_the_review(example: GitRepo) -> None:
    """An auditor reviewing the change sees which controls a mitigation claims now."""
    checkout = "models/checkout.yaml"
    _edit(
        example,
        checkout,
        "    controls: [asvs:4.0.3:V4.2.1, nist-800-53:AC-3, cwe:639]\n",
        "    controls: [asvs:4.0.3:V4.2.1, cwe:639, iso-27001:2022:A.8.3]\n",
    )
    example.commit("Checkout: ownership check maps to ISO, not NIST", "2026-06-05T10:00:00Z")
    document = json.loads(run(example, "main", "HEAD", "--format", "json").stdout)
    (model,) = [m for m in document["models"] if m["model_id"] == "checkout"]
    changes = {(c["action"], c["kind"], c["id"]): c["details"] for c in model["changes"]}
    assert changes[("changed", "mitigation", "M-CHK-04")] == [
        "controls added: iso-27001:2022:A.8.3",
        "controls removed: nist-800-53:AC-3",
    ]
    markdown = run(example, "main", "HEAD", "--format", "markdown").stdout
    assert "controls added: iso-27001:2022:A.8.3" in markdown
