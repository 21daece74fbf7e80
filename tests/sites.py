"""Helpers that make real MkDocs projects in a temporary folder and build them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from bs4 import BeautifulSoup

from .gitrepo import GitRepo

REPO = Path(__file__).resolve().parent.parent


def make_site(
    root: Path,
    models: Path | None = None,
    *,
    plugin: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    git: bool = True,
) -> Path:
    """A MkDocs project in `root` with the given model files; returns mkdocs.yml."""
    (root / "docs").mkdir(parents=True, exist_ok=True)
    (root / "docs" / "index.md").write_text("# Home\n\nWelcome.\n", encoding="utf-8")
    shutil.copytree(models or REPO / "models", root / "models", dirs_exist_ok=True)
    config: dict[str, Any] = {
        "site_name": "Test site",
        "theme": {"name": "material", "font": False, "features": ["content.action.edit"]},
        "plugins": ["search", {"tm-docs": plugin} if plugin else "tm-docs"],
        **(extra or {}),
    }
    path = root / "mkdocs.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    if git:
        # A real repository, as sites are built from one (staleness reads its history).
        (root / ".gitignore").write_text("site/\n.tm-docs-cache/\n", encoding="utf-8")
        GitRepo(root).commit("The site", "2026-01-01T00:00:00Z")
    return path


def build(
    config_file: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the real `mkdocs build` on a project (with extra environment variables)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-f", str(config_file), *args],
        cwd=config_file.parent,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def page(site: Path, path: str) -> BeautifulSoup:
    return BeautifulSoup((site / path).read_text(encoding="utf-8"), "html.parser")


def content(soup: BeautifulSoup) -> Any:
    """The article part of a mkdocs-material page."""
    return soup.select_one("article.md-content__inner")


def assert_no_script_channel(soup: BeautifulSoup, where: object) -> None:
    """No element of the page has an event attribute or a script-carrying URL."""
    for element in soup.find_all(True):
        events = [a for a in element.attrs if a.lower().startswith("on")]
        assert not events, f"{where}: {element.name} has {events}"
        for attr in ("href", "src", "action", "formaction", "data"):
            value = str(element.get(attr, "")).strip().lower()
            assert not value.startswith(("javascript:", "data:", "vbscript:")), value
