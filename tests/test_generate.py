"""`tm-docs generate`: the plugin's files on disk, and sites built from them without the plugin.

The same repository is published three ways: by the plugin (MkDocs and its
maintained fork ProperDocs), by plain MkDocs with no tm-docs plugin from the
`generate` output, and by Zensical (which reads mkdocs.yml but runs no MkDocs
plugins) from the same output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from mkdocs.config import load_config
from mkdocs.structure.files import get_files

from tm_docs.cli import main

from .sites import make_site

BIN = Path(sys.executable).parent


def _plugin_files(config_file: Path) -> dict[str, bytes]:
    """What the plugin adds to a site, taken from a real MkDocs run of its events."""
    os.chdir(config_file.parent)
    config = load_config(str(config_file))
    config.plugins.on_startup(command="build", dirty=False)
    config = config.plugins.on_config(config)
    files = config.plugins.on_files(get_files(config), config=config)
    return {f.src_uri: f.content_bytes for f in files if f.generated_by}


def _generated(outdir: Path) -> dict[str, bytes]:
    return {
        p.relative_to(outdir).as_posix(): p.read_bytes()
        for p in outdir.rglob("*")
        if p.is_file() and p.name != ".tm-docs-generated"
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("project")
    make_site(
        root,
        plugin={"path": "security/models"},
        extra={"use_directory_urls": True, "repo_url": "https://github.com/example/shop"},
    )
    return root


@pytest.fixture(scope="module")
def generated(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "docs"
    cwd = Path.cwd()
    try:
        os.chdir(project)
        result = CliRunner().invoke(main, ["generate", str(out)])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 0, result.output
    assert "add 'security/models/tm-docs.css' to extra_css" in result.stderr
    return out


def test_generate_writes_exactly_what_the_plugin_serves(project: Path, generated: Path) -> None:
    cwd = Path.cwd()
    try:
        served = _plugin_files(project / "mkdocs.yml")
    finally:
        os.chdir(cwd)
    written = _generated(generated)
    assert sorted(written) == sorted(served)
    assert all(p.startswith("security/models/") for p in written)  # the 'path' option
    assert {"security/models/checkout/dfd.svg", "security/models/tm-docs.css"} <= set(written)
    # The site-wide Controls page with its downloads, as the backlog has them.
    assert {
        "security/models/controls.md",
        "security/models/controls.csv",
        "security/models/controls.json",
    } <= set(written)
    for path, content in served.items():
        assert written[path] == content, path


def test_generated_markdown_escapes_only_what_markdown_would_read(generated: Path) -> None:
    pages = list(generated.rglob("*.md"))
    assert len(pages) >= 10
    for page in pages:
        text = page.read_text(encoding="utf-8")
        # Ordinary punctuation of dates, paths and ids stays as written.
        for needless in ("&#45;", "&#47;", "&#46;", "&#58;", "&#44;", "&#40;", "&#41;"):
            assert needless not in text.replace("1&#46; ", ""), (page, needless)
    checkout = (generated / "security/models/checkout/index.md").read_text(encoding="utf-8")
    assert "models/checkout.yaml" in checkout
    assert re.search(r"\b20\d\d-\d\d-\d\d\b", checkout)


def test_generate_refuses_invalid_models_and_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.yaml").write_text(
        "format_version: 1\nid: m\ntitle: M\nowner: t\ncolour: red\n"
    )
    out = tmp_path / "out"
    cwd = Path.cwd()
    try:
        os.chdir(tmp_path)
        result = CliRunner().invoke(main, ["generate", str(out)])
    finally:
        os.chdir(cwd)
    assert result.exit_code == 1
    assert "unknown key 'colour'" in result.stdout
    assert not out.exists()


def test_generate_removes_the_pages_of_a_deleted_model(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "docs"
    copy = tmp_path / "p"
    shutil.copytree(project, copy)
    cwd = Path.cwd()
    try:
        os.chdir(copy)
        assert CliRunner().invoke(main, ["generate", str(out)]).exit_code == 0
        (copy / "models" / "identity.yaml").unlink()
        (out / "security/models/mine.md").write_text("kept: not ours\n")
        assert CliRunner().invoke(main, ["generate", str(out)]).exit_code == 0
    finally:
        os.chdir(cwd)
    assert not (out / "security/models/identity").exists() or not any(
        (out / "security/models/identity").iterdir()
    )
    assert (out / "security/models/mine.md").exists()
    assert (out / "security/models/checkout/index.md").exists()


def _site_without_plugin(root: Path, generated: Path) -> Path:
    shutil.copytree(generated, root / "docs")
    (root / "docs" / "index.md").write_text("# Home\n\nSee the threat models.\n")
    config = {
        "site_name": "Without the plugin",
        "theme": {"name": "material", "font": False},
        "extra_css": ["security/models/tm-docs.css"],
        "markdown_extensions": ["tables", "attr_list", "md_in_html"],
    }
    (root / "mkdocs.yml").write_text(yaml.safe_dump(config))
    return root


def _check_built(site: Path) -> None:
    page = (site / "security/models/checkout/index.html").read_text(encoding="utf-8")
    assert "<table" in page and "|---" not in page  # tables render
    assert 'data="dfd.svg"' in page  # the diagram is shown beside the page
    svg = (site / "security/models/checkout/dfd.svg").read_bytes()
    assert svg.startswith(b"<?xml") or b"<svg" in svg[:500]
    overview = (site / "security/models/index.html").read_text(encoding="utf-8")
    # Links between the pages resolve to built pages.
    for href in re.findall(r'href="([^"#:]+)(?:#[^"]*)?"', overview):
        if href.endswith("/") or href.endswith(".html"):
            target = (site / "security/models" / href).resolve()
            target = target / "index.html" if href.endswith("/") else target
            assert target.is_file(), href


def test_generated_files_build_with_plain_mkdocs_and_no_plugin(
    generated: Path, tmp_path: Path
) -> None:
    root = _site_without_plugin(tmp_path, generated)
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=root,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "tm_docs" not in proc.stderr  # the plugin took no part
    _check_built(root / "site")


@pytest.mark.skipif(shutil.which("zensical", path=str(BIN)) is None, reason="zensical missing")
def test_generated_files_build_with_zensical(generated: Path, tmp_path: Path) -> None:
    root = _site_without_plugin(tmp_path, generated)
    proc = subprocess.run(
        [str(BIN / "zensical"), "build"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _check_built(root / "site")


@pytest.mark.skipif(shutil.which("properdocs", path=str(BIN)) is None, reason="properdocs missing")
def test_plugin_builds_the_same_pages_with_properdocs(project: Path, tmp_path: Path) -> None:
    copy = tmp_path / "p"
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("site", ".tm-docs-cache"))
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    runs = {}
    for tool in ("mkdocs", "properdocs"):
        proc = subprocess.run(
            [str(BIN / tool), "build", "--strict", "-d", f"site-{tool}"],
            cwd=copy,
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert proc.returncode == 0, (tool, proc.stderr)
        runs[tool] = copy / f"site-{tool}" / "security" / "models"
    built = {
        tool: sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
        for tool, folder in runs.items()
    }
    assert built["mkdocs"] == built["properdocs"]
    for name in ("checkout/dfd.svg", "backlog.csv", "tm-docs.css"):
        assert (runs["mkdocs"] / name).read_bytes() == (runs["properdocs"] / name).read_bytes()
