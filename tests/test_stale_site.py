"""Stale models on the site and in `tm-docs stale`, from real repositories."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tm_docs.cli import main

from .conftest import EXAMPLE_MODELS, REPO
from .gitrepo import GitRepo
from .sites import build, content, make_site, page

MODEL = """\
format_version: 1
id: orders
title: Orders
owner: team-a
watch: [services/orders/**]
components:
  - {id: api, title: API, kind: process, paths: [infra/orders.tf]}
"""


def _site(tmp_path: Path, **plugin: object) -> tuple[GitRepo, Path]:
    models = tmp_path / "in"
    models.mkdir()
    (models / "orders.yaml").write_text(MODEL)
    config = make_site(
        tmp_path / "site",
        models,
        plugin={"diagrams": False, **plugin},
        extra={"repo_url": "https://github.com/example/shop"},
        git=False,
    )
    for path in (tmp_path / "site" / "models").glob("*.yaml"):
        if path.name != "orders.yaml":
            path.unlink()
    repo = GitRepo(tmp_path / "site")
    (repo.root / ".gitignore").write_text("site/\n.tm-docs-cache/\n")
    repo.commit("Add the site and the orders model", "2026-01-10T10:00:00Z")
    return repo, config


def test_site_shows_a_stale_model_and_a_review_clears_it(tmp_path: Path) -> None:
    repo, config = _site(tmp_path)
    sha = repo.commit(
        "Add a route to orders", "2026-02-01T12:00:00Z", {"services/orders/routes.py": "r\n"}
    )
    assert build(config, "--strict").returncode == 0
    site = repo.root / "site"
    article = content(page(site, "threat-models/orders/index.html"))
    banner = article.select_one(".tm-banner--stale")
    assert banner is not None
    assert "Stale since 2026-02-01" in banner.get_text(" ")
    link = article.find("a", string=sha[:10])
    assert link["href"] == f"https://github.com/example/shop/commit/{sha}"
    assert "services/orders/routes.py" in article.get_text(" ")
    index = content(page(site, "threat-models/index.html"))
    assert index.select_one(".tm-stale--stale") is not None
    stale_page = content(page(site, "threat-models/stale/index.html"))
    assert "Add a route to orders" in stale_page.get_text(" ")

    marked = MODEL + "review: {date: 2026-02-02, by: [alice]}\n"
    repo.commit("Review orders", "2026-02-02T09:00:00Z", {"models/orders.yaml": marked})
    assert build(config, "--strict").returncode == 0
    article = content(page(site, "threat-models/orders/index.html"))
    assert article.select_one(".tm-banner--stale") is None
    assert article.select_one(".tm-stale--fresh") is not None


def test_outside_a_repository_staleness_is_unknown_with_one_warning(tmp_path: Path) -> None:
    config = make_site(tmp_path, plugin={"diagrams": False}, git=False)
    proc = build(config)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1
    assert "not inside a git repository" in warnings[0]
    assert build(config, "--strict").returncode == 1
    index = content(page(tmp_path / "site", "threat-models/index.html"))
    assert len(index.select(".tm-stale--unknown")) == 4  # one per example model


def test_shallow_clone_says_how_to_fetch_the_history(tmp_path: Path) -> None:
    repo, _ = _site(tmp_path)
    repo.commit("More", "2026-02-01T12:00:00Z", {"services/orders/x.py": "x\n"})
    clone = repo.clone(tmp_path / "shallow", "--depth", "1")
    proc = build(clone / "mkdocs.yml")
    assert proc.returncode == 0, proc.stderr
    assert "fetch-depth: 0" in proc.stderr


def test_without_git_staleness_is_unknown(tmp_path: Path) -> None:
    _, config = _site(tmp_path)
    proc = build(config, env={"PATH": f"{Path(sys.executable).parent}"})
    assert proc.returncode == 0, proc.stderr
    assert "git is not installed" in proc.stderr
    assert "Traceback" not in proc.stderr


def _cli(cwd: Path, *args: str):  # type: ignore[no-untyped-def]
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, list(args))
    finally:
        os.chdir(old)


def test_stale_command(tmp_path: Path) -> None:
    repo, _ = _site(tmp_path)
    assert _cli(repo.root, "stale").exit_code == 0
    repo.commit("Infra change", "2026-03-01T08:00:00Z", {"infra/orders.tf": "t\n"})
    result = _cli(repo.root, "stale")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "orders: stale - 1 commit changed its architecture after review"
    assert lines[1].endswith("2026-03-01 Test Author: Infra change (infra/orders.tf)")
    data = json.loads(_cli(repo.root, "stale", "--format", "json").stdout)
    (model,) = data["models"]
    assert model["state"] == "stale" and model["commits"][0]["files"] == ["infra/orders.tf"]
    # Commits before --since are not counted.
    assert _cli(repo.root, "stale", "--since", "2026-03-02").exit_code == 0
    markdown = _cli(repo.root, "stale", "--format", "markdown").stdout
    assert "| orders | stale | 2026-03-01 | 1 | 2026-01-10 |" in markdown


def test_the_example_repository_goes_stale_and_a_review_marker_clears_it(
    tmp_path: Path,
) -> None:
    repo = GitRepo(tmp_path / "example")
    shutil.copytree(EXAMPLE_MODELS, repo.root / "models")
    shutil.copy(REPO / "mkdocs.yml", repo.root / "mkdocs.yml")
    repo.commit("The example models", "2026-06-01T10:00:00Z")
    result = _cli(repo.root, "stale", "--format", "json")
    assert result.exit_code == 0, result.output
    repo.commit(
        "Order service: accept gift cards",
        "2026-06-10T10:00:00Z",
        {"example/services/order-service/GiftCards.kt": "class GiftCards\n"},
    )
    result = _cli(repo.root, "stale", "--format", "json")
    assert result.exit_code == 1
    states = {m["id"]: m["state"] for m in json.loads(result.stdout)["models"]}
    assert states == {
        "checkout": "stale",
        "identity": "fresh",
        "notifications": "fresh",
        "tm-docs": "fresh",
    }

    checkout = repo.root / "models" / "checkout.yaml"
    data = checkout.read_text(encoding="utf-8")
    marker = "review:\n  date: 2026-06-11\n"
    start = data.index("review:\n")
    end = data.index("  by:\n", start)
    repo.commit(
        "Checkout model reviewed after the gift cards",
        "2026-06-11T10:00:00Z",
        {"models/checkout.yaml": data[:start] + marker + data[end:]},
    )
    result = _cli(repo.root, "stale")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(checkout.read_text())["review"]["date"].isoformat() == "2026-06-11"


@pytest.mark.parametrize(
    "repo_url, expected",
    [
        ("https://github.com/o/r", "https://github.com/o/r/commit/{sha}"),
        ("https://gitlab.com/o/r/", "https://gitlab.com/o/r/-/commit/{sha}"),
        ("https://bitbucket.org/o/r", "https://bitbucket.org/o/r/commits/{sha}"),
        ("https://git.example.com/o/r", None),
    ],
)
def test_commit_links_follow_the_repository_host(repo_url: str, expected: str | None) -> None:
    from tm_docs.config import commit_url_for

    assert commit_url_for(repo_url) == expected


def test_stale_text_output_escapes_terminal_controls_in_commits(tmp_path: Path) -> None:
    repo, _ = _site(tmp_path)
    repo.commit("red \x1b[31malert", "2026-03-01T08:00:00Z", {"infra/orders.tf": "t\n"})
    result = _cli(repo.root, "stale")
    assert result.exit_code == 1
    assert "\x1b" not in result.stdout
    assert "red \\x1b[31malert" in result.stdout
