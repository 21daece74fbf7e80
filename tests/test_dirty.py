"""`mkdocs build --dirty` and `mkdocs serve --dirty`: only the generated files that changed
are rebuilt, and the site never keeps a stale page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.portfolio_repo import Portfolio, edit_model, make_portfolio
from tm_docs.render.dirty import MANIFEST, DirtySources, read_manifest

from .sites import build
from .test_scale import _site_files
from .test_serve import _wait_for, start_serve


def _stamps(site: Path) -> dict[str, int]:
    return {
        p.relative_to(site).as_posix(): p.stat().st_mtime_ns
        for p in site.rglob("*")
        if p.is_file() and p.relative_to(site).as_posix().startswith("threat-models/")
    }


def _dirty_build(portfolio: Portfolio) -> None:
    proc = build(portfolio.config, "--dirty")
    assert proc.returncode == 0, proc.stderr


def _section(site: Path) -> dict[str, bytes]:
    return {p: b for p, b in _site_files(site).items() if p.startswith("threat-models/")}


def test_a_dirty_build_rewrites_only_what_the_edit_changed_and_equals_a_clean_build(
    tmp_path: Path,
) -> None:
    portfolio = make_portfolio(tmp_path / "site", 3, commits=10)
    # A hand-written page kept by a dirty build has a title in the navigation only when
    # `nav:` gives it (MkDocs does not read it); tm-docs' own pages always have theirs.
    with portfolio.config.open("a", encoding="utf-8") as config:
        config.write("nav:\n  - Threat models: index.md\n")
    site = portfolio.root / "site"
    _dirty_build(portfolio)
    assert (site / MANIFEST).is_file()
    first, first_bytes = _stamps(site), _section(site)

    _dirty_build(portfolio)  # nothing changed: no generated file is written again
    assert _stamps(site) == first

    edited, other = portfolio.model_ids[1], portfolio.model_ids[2]
    title = edit_model(portfolio, edited, "in a dirty build")
    _dirty_build(portfolio)
    now, now_bytes = _stamps(site), _section(site)
    rewritten = {p for p in now if now[p] != first.get(p)}
    changed = {p for p in now_bytes if now_bytes[p] != first_bytes.get(p)}
    assert rewritten == changed  # written again exactly when the bytes differ
    assert f"threat-models/{edited}/index.html" in rewritten
    assert "threat-models/stride/index.html" in rewritten  # a site-wide page showing the edit
    assert "threat-models/backlog.json" in rewritten or "threat-models/backlog.csv" in rewritten
    assert not [p for p in rewritten if p.startswith(f"threat-models/{other}/")]
    assert not [p for p in rewritten if p.startswith("threat-models/icons/")]
    assert title in (site / "threat-models" / edited / "index.html").read_text(encoding="utf-8")

    # Never a stale file: the section is what a clean build of the same files writes.
    clean = build(portfolio.config, "-d", str(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    assert _section(site) == _section(tmp_path / "clean")
    assert not (tmp_path / "clean" / MANIFEST).exists()


def test_a_first_dirty_build_over_an_older_site_rebuilds_every_generated_page(
    tmp_path: Path,
) -> None:
    portfolio = make_portfolio(tmp_path / "site", 3, commits=10)
    site = portfolio.root / "site"
    proc = build(portfolio.config)  # an ordinary build leaves no manifest
    assert proc.returncode == 0, proc.stderr
    assert not (site / MANIFEST).exists()
    edited = portfolio.model_ids[0]
    title = edit_model(portfolio, edited, "after a clean build")
    _dirty_build(portfolio)  # the pages are newer than any source would be: not trusted
    assert title in (site / "threat-models" / edited / "index.html").read_text(encoding="utf-8")
    assert title in (site / "threat-models" / "stride" / "index.html").read_text(encoding="utf-8")

    # A clean build between two dirty ones removes the manifest; the next dirty build does
    # not trust the pages of the clean build and shows the reverted title again.
    before = portfolio.model_file(edited).read_text(encoding="utf-8")
    second = edit_model(portfolio, edited, "second")
    assert build(portfolio.config).returncode == 0
    assert not (site / MANIFEST).exists()
    portfolio.model_file(edited).write_text(before, encoding="utf-8")
    _dirty_build(portfolio)
    page = (site / "threat-models" / edited / "index.html").read_text(encoding="utf-8")
    assert title in page and second not in page


def test_a_dirty_build_removes_the_pages_of_a_deleted_model(tmp_path: Path) -> None:
    portfolio = make_portfolio(tmp_path / "site", 3, commits=10)
    site = portfolio.root / "site"
    _dirty_build(portfolio)
    gone, kept = portfolio.model_ids[0], portfolio.model_ids[1]
    assert (site / "threat-models" / gone / "index.html").is_file()
    portfolio.model_file(gone).unlink()
    _dirty_build(portfolio)
    assert not (site / "threat-models" / gone).exists()
    assert (site / "threat-models" / kept / "index.html").is_file()
    overview = (site / "threat-models" / "index.html").read_text(encoding="utf-8")
    assert f"{gone}/" not in overview


def test_a_page_rewritten_by_someone_else_is_not_trusted(tmp_path: Path) -> None:
    # The module on its own, with real files: a site folder whose page changed behind the
    # manifest's back gets a source newer than that page, so MkDocs rebuilds it.
    site = tmp_path / "site"
    site.mkdir()
    sources = DirtySources()
    sources.start(site)
    private = sources.write("a.md", "# A\n", "a/index.html")
    (site / "a").mkdir()
    (site / "a" / "index.html").write_text("built from A", encoding="utf-8")
    sources.finish()

    sources.start(site)
    assert sources.write("a.md", "# A\n", "a/index.html").stat().st_mtime_ns == 0  # kept
    sources.finish()

    page = site / "a" / "index.html"
    page.write_text("written by another tool", encoding="utf-8")
    sources.start(site)
    private = sources.write("a.md", "# A\n", "a/index.html")
    assert private.stat().st_mtime_ns > page.stat().st_mtime_ns  # rebuilt
    assert private.read_text(encoding="utf-8") == "# A\n"
    # A manifest that names a path outside the site folder is ignored, never followed.
    (site / MANIFEST).write_text(
        '{"files": {"x.md": {"digest": "0", "dest": "../outside", "mtime_ns": 1}}}',
        encoding="utf-8",
    )
    (tmp_path / "outside").write_text("keep", encoding="utf-8")
    sources.start(site)
    sources.finish()
    assert (tmp_path / "outside").read_text(encoding="utf-8") == "keep"

    # Nor one that reaches outside through a linked folder inside the site folder, with
    # the time stamp of the file there (which whoever wrote the manifest can read).
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "page.html"
    victim.write_text("keep", encoding="utf-8")
    (site / "linked").symlink_to(elsewhere, target_is_directory=True)
    stamp = victim.stat().st_mtime_ns
    entry = {"digest": "0", "dest": "linked/page.html", "mtime_ns": stamp}
    (site / MANIFEST).write_text(json.dumps({"files": {"x.md": entry}}), encoding="utf-8")
    sources.start(site)
    sources.finish()
    assert victim.read_text(encoding="utf-8") == "keep"

    # A manifest that is a FIFO (a read would wait for ever) means: rebuild everything.
    (site / MANIFEST).unlink()
    os.mkfifo(site / MANIFEST)
    assert read_manifest(site) == {}


def test_the_private_folder_of_a_process_that_is_gone_is_removed() -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    left = Path(tempfile.gettempdir()) / f"tm-docs-sources-{gone.stdout.strip()}-test"
    (left / "threat-models").mkdir(parents=True)
    (left / "threat-models" / "a.md").write_text("# A\n", encoding="utf-8")
    mine = DirtySources()
    mine.start(Path(tempfile.gettempdir()) / "no-site")
    private = mine.source("threat-models/a.md")
    assert private is not None and f"tm-docs-sources-{os.getpid()}-" in str(private)
    assert not left.exists()
    assert mine.source("../escape.md") is None  # such a file stays in memory


def _built(log: list[str]) -> int:
    return sum("Documentation built" in line for line in log)


def _wait_until(done: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not done():
        time.sleep(0.1)
    assert done()


def test_mkdocs_serve_dirty_rebuilds_only_the_edited_model_and_the_site_wide_pages(
    tmp_path: Path,
) -> None:
    portfolio = make_portfolio(tmp_path / "site", 3, commits=10)
    # -v: the log names the temporary folder the server builds into.
    server = start_serve(portfolio.root, "--dirty", "-v")
    log = server.log
    edited, other = portfolio.model_ids[1], portfolio.model_ids[2]
    try:
        page = server.url(f"threat-models/{edited}/")
        _wait_for(page, "Threats")
        _wait_until(lambda: _built(log) == 1)
        (line,) = {x for x in log if "Config value 'site_dir' = " in x}
        served = Path(line.split(" = ", 1)[1].strip().strip("'"))
        before = _stamps(served)
        time.sleep(1)  # let the watcher settle
        title = edit_model(portfolio, edited, "in serve --dirty")
        _wait_for(page, title)
        _wait_for(server.url("threat-models/stride/"), title)
        _wait_until(lambda: _built(log) == 2)
        after = _stamps(served)
    finally:
        server.stop(interrupt=True)  # as Ctrl+C: the server's exit handlers run
    server_pid = server.process.pid
    rewritten = {p for p in after if after[p] != before.get(p)}
    assert f"threat-models/{edited}/index.html" in rewritten
    assert "threat-models/stride/index.html" in rewritten
    # The private sources of the server are gone with it.
    assert not list(Path(tempfile.gettempdir()).glob(f"tm-docs-sources-{server_pid}-*"))
    assert "threat-models/index.html" in rewritten  # the overview lists the edited threat
    assert not [p for p in rewritten if p.startswith(f"threat-models/{other}/")]
    assert not [p for p in rewritten if p.startswith("threat-models/icons/")]
    assert len(rewritten) < len(after) // 3
