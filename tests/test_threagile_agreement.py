"""On real Threagile models, tm-docs suggests the weakness classes Threagile's rules find.

The benchmark (benchmarks/threagile_agreement.py) is a report; this test runs it the
way CI does on Threagile's demo model (bundled with the benchmarks) and holds it to the
goal. The categories checked one by one each depend on one importer mapping or rule,
so removing that mapping fails the test, not only the total.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from .conftest import REPO

SCRIPT = REPO / "benchmarks" / "threagile_agreement.py"
DEMO = REPO / "benchmarks" / "threagile" / "threagile-example-model.yaml"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )


def _report() -> dict[str, Any]:
    result = _run("--json", str(DEMO))
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_agreement_on_the_demo_model_meets_the_goal() -> None:
    report = _report()
    assert report["problems"] == []
    assert report["categories"] >= 20
    assert report["agreement"] >= 0.80, report["models"]
    assert report["meets_goal"] is True


def test_each_mapped_category_is_found_where_threagile_finds_it() -> None:
    categories = _report()["models"][DEMO.name]
    expected = {
        # delivery roles from technologies
        "code-backdooring": "build-system-backdooring",
        "accidental-secret-leak": "secrets-leak-from-repository",
        # deploy targets from the build pipeline's write links
        "push-instead-of-pull-deployment": "unchecked-deployment",
        # human clients and second factors from used_as_client_by_human and two-factor
        "missing-authentication-second-factor": "human-without-second-factor",
        # identity propagation from a link's authorization
        "missing-identity-propagation": "user-identity-not-propagated",
        # input formats from data_formats_accepted
        "untrusted-deserialization": "unsafe-deserialisation",
        "xml-external-entity": "xml-external-entities",
        "missing-file-validation": "unvalidated-file-upload",
        # containers from machine
        "container-baseimage-backdooring": "image-pinning-unrecorded",
        # technologies of the called components
        "sql-nosql-injection": "sql-injection",
        "path-traversal": "path-traversal",
        "cross-site-scripting": "cross-site-scripting",
    }
    for category, rule in expected.items():
        assert category in categories, sorted(categories)
        assert rule in categories[category]["located_by"], (category, categories[category])


def test_the_text_report_names_every_category_and_the_total() -> None:
    result = _run(str(DEMO))
    assert result.returncode == 0, result.stderr
    assert "overall:" in result.stdout and "goal met" in result.stdout
    for category in _report()["models"][DEMO.name]:
        assert f"  {category} " in result.stdout
