"""Every face over one repository tells the same facts.

The site (as `tm-docs generate` writes it, which is byte for byte what the plugin
serves: see test_generate.py), `stale`, `check`, `backlog` and `diff` are run on
one real git repository; the review dates, staleness, risks and orderings they
show must agree, because each fact is decided in one function they all ask.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .gitrepo import GitRepo
from .sites import make_site


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tm_docs.cli", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )


def _json(root: Path, *args: str) -> Any:
    proc = _run(root, *args, "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    root = tmp_path_factory.mktemp("faces")
    make_site(root)
    repo = GitRepo.__new__(GitRepo)
    repo.root = root
    # Architecture the notifications model watches changes after its review.
    repo.commit(
        "Notifications: a new provider",
        "2026-11-20T10:00:00Z",
        {"example/services/notifications/extra.js": "// example\n"},
    )
    return repo


@pytest.fixture(scope="module")
def pages(repo: GitRepo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    proc = _run(repo.root, "generate", str(out))
    assert proc.returncode == 0, proc.stderr
    return out / "threat-models"


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_staleness_and_review_dates_agree(repo: GitRepo, pages: Path) -> None:
    stale = _json(repo.root, "stale")
    states = {m["id"]: m["state"] for m in stale["models"]}
    assert states["notifications"] == "stale" and "fresh" in states.values()
    stale_page = _text(pages / "stale.md")
    for model in stale["models"]:
        page = _text(pages / model["id"] / "index.md")
        review_day = (model["review_time"] or "")[:10]
        assert review_day, model["id"]
        # The model page states the same review point as the command line, in its
        # summary and (when stale) in its banner; no other day is called the last review.
        shown = re.findall(r"[Ll]ast review[^0-9\n]{0,80}(\d{4}-\d\d-\d\d)", page)
        assert shown and set(shown) == {review_day}, (model["id"], shown, review_day)
        listed = f"({model['id']}/index.md)" in stale_page
        assert listed is (model["state"] == "stale"), model["id"]
    # One order of stale models: the command's order is the stale page's order.
    stale_ids = [m["id"] for m in stale["models"] if m["state"] == "stale"]
    positions = [stale_page.index(f"({i}/index.md)") for i in stale_ids]
    assert positions == sorted(positions)


def test_backlog_order_and_risks_agree(repo: GitRepo, pages: Path) -> None:
    backlog = _json(repo.root, "backlog")
    ids = [item["mitigation"] for item in backlog["items"]]
    assert len(ids) > 10
    page = _text(pages / "backlog.md")
    shown = list(dict.fromkeys(re.findall(r"\bM-[A-Z]{3}-\d+\b", page)))
    assert shown[: len(ids)] == ids  # the page's ranked table, in the same order
    assert json.loads(_text(pages / "backlog.json")) == backlog
    csv_ids = [line.split(",")[2] for line in _text(pages / "backlog.csv").splitlines()[1:]]
    assert csv_ids == ids
    ranks = [item["rank"] for item in backlog["items"]]
    assert ranks == list(range(1, len(ranks) + 1))
    for item in backlog["items"]:
        row = next(
            line
            for line in page.splitlines()
            if line.startswith("|") and re.search(rf"\b{item['mitigation']}\b", line)
        )
        assert re.search(rf"\b{item['risk']}\b", row), (item["mitigation"], row)


def test_coverage_and_findings_agree(repo: GitRepo, pages: Path) -> None:
    check = _json(repo.root, "check")
    coverage_page = _text(pages / "coverage.md")
    for model in check["models"]:
        assert f"{model['coverage']}%" in coverage_page, model["id"]
        page = _text(pages / model["id"] / "index.md")
        assert f"{model['coverage']}%" in page or f"{model['coverage']} %" in page, model["id"]


def test_diff_and_stale_agree_on_what_a_change_makes_stale(repo: GitRepo, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo.root), str(clone)], check=True)
    work = GitRepo.__new__(GitRepo)
    work.root = clone
    work.git("config", "user.name", "Test Author")
    work.git("config", "user.email", "author@example.invalid")
    work.commit(
        "Checkout: a new route",
        "2026-11-25T10:00:00Z",
        {"example/services/order-service/routes.py": "# example\n"},
    )
    diff = _json(clone, "diff", "HEAD~1", "HEAD")
    stale_after = {m["id"]: m["state"] for m in _json(clone, "stale")["models"]}
    stale_before = {m["id"]: m["state"] for m in _json(repo.root, "stale")["models"]}
    assert diff["stale"], "the change touches watched architecture"
    for model_id in diff["stale"]:
        assert stale_after[model_id] == "stale"
    for model_id, state in stale_after.items():
        if state == "stale" and stale_before[model_id] != "stale":
            assert model_id in diff["stale"]


def test_controls_agree(repo: GitRepo, pages: Path) -> None:
    controls = _json(repo.root, "controls")
    assert json.loads(_text(pages / "controls.json")) == controls
    frameworks = [f["framework"] for f in controls["frameworks"]]
    assert {"asvs:4.0.3", "nist-800-53", "iso-27001:2022", "cwe"} <= set(frameworks)
    page = _text(pages / "controls.md")
    csv_rows = _text(pages / "controls.csv").splitlines()[1:]
    # One order of controls and mitigations on the page, in the CSV and in the command.
    expected = [
        (control["identifier"], use["mitigation"])
        for framework in controls["frameworks"]
        for control in framework["controls"]
        for use in control["mitigations"]
    ]
    assert [tuple(row.split(",")[1:4:2]) for row in csv_rows] == [
        (control["id"], use["mitigation"])
        for framework in controls["frameworks"]
        for control in framework["controls"]
        for use in control["mitigations"]
    ]
    rows = [line for line in page.splitlines() if line.startswith("| ") and "mitigation-" in line]
    shown = []
    for row in rows:
        control_cell, mitigation_cell = row.removeprefix("| ").split(" | ")[:2]
        control = re.sub(r"<[^>]+>|\]\([^)]*\)|\[", "", control_cell)
        mitigation = re.search(r"M-[A-Z]{3}-\d+", mitigation_cell)
        assert mitigation, row
        shown.append((control, mitigation.group(0)))
    assert shown == expected
    for framework in controls["frameworks"]:
        # Under its framework's heading, which names the namespace and version once.
        intro = f"Written in the models as <em>{framework['framework']}:"
        assert f"## {framework['name']}\n\n{intro}" in page
