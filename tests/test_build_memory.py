"""What a `mkdocs build` keeps in memory: the generated files are handed to MkDocs as files
on disk (as a hand-written site's are), and a build whose pages all come from the cache
loads no Markdown converter or sanitizer. Real builds of a generated portfolio; a MkDocs
hook of the test site reports what MkDocs holds."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from benchmarks.portfolio_repo import Portfolio, make_portfolio
from tm_docs.render.dirty import DirtySources

from .sites import build

MODELS = 3

# A MkDocs hook (a module the site's `hooks:` names): after the build, which generated
# files MkDocs held as text in memory, and which of the libraries a warm build must not
# load were imported.
HOOK = """
import gc, json, sys
_files = None
_models_alive = None
_globs_kept = None

def on_nav(nav, config, files):
    # Before MkDocs reads the pages: how many loaded threat models are still alive, and
    # how many compiled watch globs the glob cache keeps.
    global _models_alive, _globs_kept
    gc.collect()
    _models_alive = sum(
        type(o).__module__ == "tm_docs.model" and type(o).__name__ == "ThreatModel"
        for o in gc.get_objects()
    )
    from tm_docs.analysis.globs import compile_glob
    _globs_kept = compile_glob.cache_info().currsize
    return nav

def on_env(env, config, files):
    global _files
    _files = files
    return env

def on_post_build(config):
    generated = [f for f in _files if f.generated_by == "tm-docs"]
    report = {
        "generated": len(generated),
        "in_memory": sorted(f.src_uri for f in generated if f.abs_src_path is None),
        "modules": sorted(m for m in ("nh3",) if m in sys.modules),
        "models_alive": _models_alive,
        "globs_kept": _globs_kept,
    }
    with open(config.config_file_path + ".report.json", "w", encoding="utf-8") as out:
        json.dump(report, out)
"""


def _site_bytes(site: Path) -> dict[str, bytes]:
    # sitemap.xml.gz carries the time of the build
    return {
        p.relative_to(site).as_posix(): p.read_bytes()
        for p in sorted(site.rglob("*"))
        if p.is_file() and p.name != "sitemap.xml.gz"
    }


def _site_with_hook(tmp_path: Path, name: str, hook: str) -> Portfolio:
    """A generated portfolio whose `mkdocs.yml` names `hook` as a MkDocs hook."""
    portfolio = make_portfolio(tmp_path / "site", MODELS, commits=5)
    config = yaml.safe_load(portfolio.config.read_text(encoding="utf-8"))
    (portfolio.root / name).write_text(hook, encoding="utf-8")
    config["hooks"] = [name]
    portfolio.config.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return portfolio


def test_a_build_gives_mkdocs_its_files_on_disk_and_a_warm_one_loads_no_converter(
    tmp_path: Path,
) -> None:
    portfolio = _site_with_hook(tmp_path, "report_hook.py", HOOK)
    report_file = Path(str(portfolio.config) + ".report.json")
    # The generated descriptions are prose, lists and bold words, which skip the converter
    # and the sanitizer; a link does not.
    path = portfolio.model_file(portfolio.model_ids[0])
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["description"] = "See [the runbook](https://example.com/runbook) first."
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    git = ["git", "-C", str(portfolio.root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "commit", "-qam", "A link"], check=True)

    cold = build(portfolio.config)
    assert cold.returncode == 0, cold.stderr
    first = _site_bytes(portfolio.root / "site")
    cold_report = json.loads(report_file.read_text(encoding="utf-8"))
    # pages, diagrams, icons, the stylesheet and script, the exports: all from disk
    assert cold_report["generated"] > MODELS * 2
    assert cold_report["in_memory"] == []
    assert cold_report["modules"] == ["nh3"]  # the cold build rendered the descriptions

    warm = build(portfolio.config)
    assert warm.returncode == 0, warm.stderr
    assert f"0 of {MODELS} model file(s) loaded" in warm.stderr
    warm_report = json.loads(report_file.read_text(encoding="utf-8"))
    assert warm_report["in_memory"] == []
    assert warm_report["modules"] == []
    assert _site_bytes(portfolio.root / "site") == first
    # No hand-written page lists the models: the report and the loaded models were
    # dropped at on_files, before MkDocs read and converted the pages.
    assert cold_report["models_alive"] == 0
    assert warm_report["models_alive"] == 0
    # Nor the watch globs compiled for the staleness check (kept only by `mkdocs serve`).
    assert cold_report["globs_kept"] == 0
    assert warm_report["globs_kept"] == 0


def test_a_page_that_lists_the_models_keeps_the_report_until_the_pages_are_read(
    tmp_path: Path,
) -> None:
    portfolio = _site_with_hook(tmp_path, "report_hook.py", HOOK)
    index = portfolio.root / "docs" / "index.md"
    index.write_text("# Threat models\n\n<!-- tm-docs: models -->\n", encoding="utf-8")

    result = build(portfolio.config)
    assert result.returncode == 0, result.stderr
    report = json.loads(Path(str(portfolio.config) + ".report.json").read_text("utf-8"))
    assert report["models_alive"] == MODELS
    html = (portfolio.root / "site" / "index.html").read_text(encoding="utf-8")
    assert "tm-docs: models" not in html
    for model_id in portfolio.model_ids:
        assert f'href="threat-models/{model_id}/"' in html


def test_a_private_file_backs_a_text_only_when_mkdocs_reads_the_same_text_back(
    tmp_path: Path,
) -> None:
    sources = DirtySources()
    page = sources.backing(
        "threat-models/a/index.md", "# A\n\nnon-ASCII: → ≥ é\n", read_as_text=True
    )
    assert page is not None
    assert page.read_bytes() == "# A\n\nnon-ASCII: → ≥ é\n".encode()
    image = sources.backing("threat-models/a/dfd.svg", b"<svg>\r\n</svg>", read_as_text=False)
    assert image is not None and image.read_bytes() == b"<svg>\r\n</svg>"
    # A file MkDocs copies (an export) is copied as bytes: its line ends stay.
    export = sources.backing("threat-models/backlog.csv", "a,b\r\n", read_as_text=False)
    assert export is not None and export.read_bytes() == b"a,b\r\n"
    # MkDocs reads a page's file in text mode: line ends would change, a BOM go.
    assert sources.backing("threat-models/b/index.md", "# B\r\nline\n", read_as_text=True) is None
    assert sources.backing("threat-models/c/index.md", "\ufeff# C\n", read_as_text=True) is None
    assert sources.backing("../outside.md", "# D\n", read_as_text=True) is None


MARKER_HOOK = """
from mkdocs.plugins import event_priority

@event_priority(100)  # before tm-docs' own hook
def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri.startswith("notes"):
        return markdown + "\\n<!-- tm-docs: models -->\\n"
    return markdown
"""


def test_a_marker_another_plugin_adds_is_named_in_one_safe_log_line(tmp_path: Path) -> None:
    """The report is dropped when no page's source holds the model list's marker; a marker
    put there later (by another plugin) is left in the page with a warning that names the
    page, whose file name a pull request chose, without its control characters."""
    portfolio = _site_with_hook(tmp_path, "marker_hook.py", MARKER_HOOK)
    name = "notes\x1b[2J\x1b]0;owned\x07.md"
    (portfolio.root / "docs" / name).write_text("# Notes\n", encoding="utf-8")

    result = build(portfolio.config)
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if "marker is not in" in line]
    assert warning == [
        "WARNING -  tm_docs: notes\\x1b[2J\\x1b]0;owned\\x07.md: the model list's marker "
        "is not in the page's file"
    ], result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
