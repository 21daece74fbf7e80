"""Many models: deterministic output, work done once, and an incremental `mkdocs serve`.

The portfolios here are tiny (a few generated models); the speed goals live in
`benchmarks/portfolio.py`, which makes its portfolios with the same generator.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from benchmarks.portfolio_repo import Portfolio, edit_model, make_portfolio, model_text
from tm_docs.analysis.settings import Settings
from tm_docs.analysis.staleness import Staleness
from tm_docs.pipeline import Pipeline, Work, build_site
from tm_docs.render.progress import terminal_progress

from .sites import build
from .test_serve import _wait_for, start_serve


def _site_files(site: Path) -> dict[str, bytes]:
    # The sitemap's gzip header carries the time of the build; everything else must agree.
    return {
        p.relative_to(site).as_posix(): p.read_bytes()
        for p in sorted(site.rglob("*"))
        if p.is_file() and p.name != "sitemap.xml.gz"
    }


def test_two_builds_of_one_commit_in_two_folders_are_byte_identical(tmp_path: Path) -> None:
    first = make_portfolio(tmp_path / "a", 4, commits=30)
    second = tmp_path / "b"
    subprocess.run(["git", "clone", "-q", str(first.root), str(second)], check=True)
    # Two processes with other string hashes: no set's or dict's order may reach the output.
    for config, seed in ((first.config, "1"), (second / "mkdocs.yml", "2")):
        proc = build(config, env={"PYTHONHASHSEED": seed})
        assert proc.returncode == 0, proc.stderr
    a, b = _site_files(first.root / "site"), _site_files(second / "site")
    generated = [p for p in a if p.startswith("threat-models/")]
    # Pages, diagrams (drawn in parallel), icons and the CSV and JSON exports are all there.
    assert sum(p.endswith("/dfd.svg") for p in generated) == 4
    assert {"threat-models/backlog.csv", "threat-models/backlog.json"} <= set(generated)
    assert sorted(a) == sorted(b)
    assert [p for p in a if a[p] != b[p]] == []
    # A warm build (diagrams from the cache folder) writes the same bytes again.
    proc = build(second / "mkdocs.yml")
    assert proc.returncode == 0, proc.stderr
    assert _site_files(second / "site") == b


def _settings(root: Path) -> Settings:
    return Settings(root=root, models_dir=root / "models")


def test_a_rebuild_after_one_edit_redoes_only_that_model_and_equals_a_fresh_build(
    tmp_path: Path,
) -> None:
    portfolio = make_portfolio(tmp_path / "site", 4, commits=10)
    pipeline = Pipeline(_settings(portfolio.root))
    first = pipeline.build()
    assert len(first.work.loaded) == len(first.work.analysed) == len(first.work.rendered) == 4
    unchanged = pipeline.build()
    assert unchanged.work.loaded == unchanged.work.analysed == unchanged.work.rendered == ()
    views = dict(pipeline._pages.views)  # what the site-wide pages ask of each model
    edited = portfolio.model_ids[2]
    title = edit_model(portfolio, edited, "while serving")
    again = pipeline.build()
    # Kept with what they worked out, but for the edited model's.
    kept = [m for m, view in pipeline._pages.views.items() if view is views[m]]
    assert sorted(kept) == sorted(m for m in portfolio.model_ids if m != edited)
    assert len(again.work.loaded) == 1 and again.work.loaded[0].endswith(f"{edited}.yaml")
    assert again.work.analysed == (edited,)
    assert again.work.rendered == (edited,)
    fresh = build_site(_settings(portfolio.root))
    assert [f.path for f in again.files] == [f.path for f in fresh.files]
    by_path = {f.path: f.content for f in fresh.files}
    assert [f.path for f in again.files if f.content != by_path[f.path]] == []
    stride = next(f for f in again.files if f.path == "threat-models/stride.md")
    assert title in str(stride.content)  # the site-wide pages show the edit
    # Icons are stored once per site: the diagrams refer to the site's icon files.
    svgs = [f.content for f in fresh.files if f.path.endswith("/dfd.svg")]
    icons = [f for f in fresh.files if f.path.startswith("threat-models/icons/")]
    assert len(svgs) == 4 and icons
    for svg in svgs:
        assert isinstance(svg, bytes)
        assert b"base64" not in svg and b'xlink:href="../icons/' in svg


def _change(portfolio: Portfolio, model_id: str, change: str) -> None:
    """Edit one model file (or add or remove one) as a user would while serving."""
    path = portfolio.model_file(model_id)
    if change == "title":
        edit_model(portfolio, model_id, "retitled")
        return
    if change == "added":
        count = len(portfolio.model_ids)
        text = model_text(count)
        added = yaml.safe_load(text)["id"]
        portfolio.model_file(added).write_text(text, encoding="utf-8")
        return
    if change == "removed":
        path.unlink()
        return
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if change == "rating":  # the riskiest threat of all: ranks move across the site
        for threat in data["threats"][:3]:
            threat["impact"] = threat["likelihood"] = 5
            threat["status"] = "open"
    elif change == "owner":
        data["owner"] = "team-moved"
    elif change == "mitigations done":  # backlog rows and controls go, threats close
        for mitigation in data["mitigations"]:
            mitigation["status"] = "done"
        for threat in data["threats"]:
            if threat["status"] == "open":
                threat["status"] = "mitigated"
    elif change == "assets":  # the inventory's order and the assets' urgency move
        for asset in data["assets"]:
            asset["classification"] = "public"
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=100), encoding="utf-8")


@pytest.mark.parametrize("rebuild", ["serve", "new process"])
def test_rebuilds_re_render_only_the_pages_an_edit_changes(tmp_path: Path, rebuild: str) -> None:
    """A split site (owners' pages): after each kind of edit, a rebuild equals a fresh build
    byte for byte, and a threat's new title re-renders its model's page and some site pages,
    not all of them: in `mkdocs serve` (the same pipeline, pages kept in memory) and in a
    new `mkdocs build` (a new pipeline, pages kept in the cache folder)."""
    portfolio = make_portfolio(tmp_path / "site", 6, commits=10)
    cache = portfolio.root / ".tm-docs-cache" if rebuild == "new process" else None

    def settings(cache_dir: Path | None = cache) -> Settings:
        return Settings(
            root=portfolio.root,
            models_dir=portfolio.root / "models",
            owner_pages_from=2,
            cache_dir=cache_dir,
        )

    serving = Pipeline(settings())

    def pipeline() -> Pipeline:
        return serving if cache is None else Pipeline(settings())

    first = pipeline().build()
    assert len(first.work.site_rendered) == first.work.site_pages > 8  # split: owners' pages
    assert pipeline().build().work.site_rendered == ()
    for change, model_id in (
        ("title", portfolio.model_ids[2]),
        ("rating", portfolio.model_ids[4]),
        ("owner", portfolio.model_ids[1]),
        ("added", ""),
        ("mitigations done", portfolio.model_ids[3]),
        ("assets", portfolio.model_ids[5]),
        ("removed", portfolio.model_ids[0]),
    ):
        _change(portfolio, model_id, change)
        again = pipeline().build()
        fresh = build_site(settings(cache_dir=None))
        assert [f.path for f in again.files] == [f.path for f in fresh.files], change
        by_path = {f.path: f.content for f in fresh.files}
        assert [f.path for f in again.files if f.content != by_path[f.path]] == [], change
        if change == "title":
            assert again.work.rendered == (model_id,)
            rendered = set(again.work.site_rendered)
            assert 0 < len(rendered) < again.work.site_pages / 2, rendered
            owner = yaml.safe_load(portfolio.model_file(model_id).read_text())["owner"]
            assert f"threat-models/stride/{owner}.md" in rendered
            assert "threat-models/controls.md" not in rendered


def test_mkdocs_serve_redoes_only_the_edited_model(tmp_path: Path) -> None:
    portfolio = make_portfolio(tmp_path / "site", 3, commits=10)
    server = start_serve(portfolio.root)
    log = server.log
    try:
        edited = portfolio.model_ids[1]
        page = server.url(f"threat-models/{edited}/")
        _wait_for(page, "Threats")
        title = edit_model(portfolio, edited, "in serve")
        _wait_for(page, title)
        _wait_for(server.url("threat-models/stride/"), title)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sum("work:" in line for line in log) < 2:
            time.sleep(0.2)
    finally:
        server.stop()
    work = [line.split("work: ", 1)[1].strip() for line in log if "work: " in line]
    assert work[0].startswith("3 of 3 model file(s) loaded, 3 analysed, 3 model page(s)"), work
    assert "1 of 3 model file(s) loaded, 1 analysed, 1 model page(s) rendered" in work[-1], work
    # The other models' staleness verdicts and portfolio parts are reused (the edited
    # model, being edited, is reviewed now: no verdict to work out).
    assert "0 staleness verdict(s) and 1 portfolio part(s) worked out" in work[-1], work


class _Terminal(io.StringIO):
    """A text stream that says it is a terminal, as standard error in a shell does."""

    def isatty(self) -> bool:
        return True


def test_long_work_shows_progress_on_a_terminal_and_nothing_in_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    portfolio = make_portfolio(tmp_path / "site", 3, commits=5)
    monkeypatch.delenv("CI", raising=False)
    terminal = _Terminal()
    pipeline = Pipeline(_settings(portfolio.root))
    with terminal_progress(terminal, delay=0) as progress:
        pipeline.progress = progress
        pipeline.build()
    shown = terminal.getvalue()
    for stage in ("loading models", "analysing models", "drawing diagrams", "rendering pages"):
        assert f"{stage}: " in shown, shown
    assert "/3 [" in shown and "\r" in shown  # counts, on one line redrawn in place
    monkeypatch.setenv("CI", "true")
    quiet = _Terminal()
    with terminal_progress(quiet, delay=0) as progress:
        Pipeline(_settings(portfolio.root)).progress = progress
        progress("loading models", 1, 3)
    assert quiet.getvalue() == ""
    # Not a terminal (a pipe, a CI log): the command prints its usual lines only.
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "tm-docs"), "generate", str(tmp_path / "out")],
        cwd=portfolio.root,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "CI"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "\r" not in proc.stderr and "loading models" not in proc.stderr
    assert proc.stderr.splitlines()[0].startswith("wrote ")


def _day(verdict: Staleness) -> Staleness:
    """The verdict with its review time cut to the day (what the pages show)."""
    review = verdict.review_time
    day = review and review.replace(hour=0, minute=0, second=0, microsecond=0)
    return replace(verdict, review_time=day)


def test_serve_rebuilds_with_models_being_edited_equal_fresh_builds(tmp_path: Path) -> None:
    """Several models with uncommitted changes (being reviewed now), then one more saved,
    then nothing saved, then a commit: each rebuild of the serving pipeline equals a fresh
    build, and a rebuild with nothing saved renders no page and decides nothing again."""
    portfolio = make_portfolio(tmp_path / "site", 6, commits=30)
    settings = Settings(
        root=portfolio.root,
        models_dir=portfolio.root / "models",
        owner_pages_from=2,
        max_age_days=3650,
    )
    serving = Pipeline(settings)
    serving.build()
    for model_id in portfolio.model_ids[:3]:
        edit_model(portfolio, model_id, f"edited {model_id}")

    def rebuild() -> Work:
        again = serving.build()
        fresh = build_site(settings)
        assert [f.path for f in again.files] == [f.path for f in fresh.files]
        by_path = {f.path: f.content for f in fresh.files}
        assert [f.path for f in again.files if f.content != by_path[f.path]] == []
        # A model being edited is reviewed at the first build that saw it so: the same day.
        assert {k: _day(v) for k, v in again.staleness.items()} == {
            k: _day(v) for k, v in fresh.staleness.items()
        }
        return again.work

    edited = rebuild()  # three models being edited
    assert sorted(edited.analysed) == sorted(portfolio.model_ids[:3])
    assert edited.decided == () and sorted(edited.summarised) == sorted(portfolio.model_ids[:3])
    time.sleep(1.1)  # a later clock: the models being edited keep their review point
    saved = portfolio.model_ids[4]
    edit_model(portfolio, saved, "saved while others are edited")
    one = rebuild()
    assert one.analysed == (saved,) == one.rendered == one.summarised
    assert one.decided == ()  # its review point is now, the others' verdicts are reused
    time.sleep(1.1)
    nothing = rebuild()
    assert (nothing.loaded, nothing.analysed, nothing.rendered, nothing.site_rendered) == (
        (),
        (),
        (),
        (),
    )
    assert nothing.decided == nothing.summarised == ()
    # A commit moves HEAD: every verdict is decided again, the committed models' pages
    # say they are reviewed by that commit.
    subprocess.run(["git", "add", "models"], cwd=portfolio.root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "m"],
        cwd=portfolio.root,
        check=True,
    )
    committed = rebuild()
    assert len(committed.decided) == len(portfolio.model_ids)
    assert sorted(committed.rendered) == sorted([*portfolio.model_ids[:3], saved])
    assert committed.summarised == ()


def test_serve_rebuilds_store_the_pages_a_new_process_finds(tmp_path: Path) -> None:
    """A serving pipeline with a cache folder hashes only the new view objects of a
    rebuild (the unchanged models' are the same objects): the entries it stores are the
    ones a new process looks for, so that process renders no page.  (Each edit is
    committed: a model being edited is reviewed "now", which a new process says anew.)"""
    portfolio = make_portfolio(tmp_path / "site", 6, commits=10)
    settings = Settings(
        root=portfolio.root,
        models_dir=portfolio.root / "models",
        owner_pages_from=2,
        cache_dir=portfolio.root / ".tm-docs-cache",
    )
    serving = Pipeline(settings)
    serving.build()
    for n, model_id in enumerate(portfolio.model_ids[1:4]):
        edit_model(portfolio, model_id, f"edit {n}")
        subprocess.run(["git", "add", "models"], cwd=portfolio.root, check=True)
        subprocess.run(
            [
                "git",
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.invalid",
                "commit",
                "-qm",
                "e",
            ],
            cwd=portfolio.root,
            check=True,
        )
        again = serving.build()
        assert again.work.site_rendered, model_id
        new = Pipeline(settings).build()
        assert (new.work.rendered, new.work.site_rendered) == ((), ()), model_id
        assert [(f.path, f.content) for f in new.files] == [
            (f.path, f.content) for f in again.files
        ]
