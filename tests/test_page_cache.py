"""The signed page cache: pages kept in the project's cache folder across builds.

The cache folder is untrusted (a pull request can shape it), so an entry is used
only when it carries a valid signature of the user's own key; whatever fails is
rendered afresh, and the site is the same as a cold build's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.portfolio_repo import edit_model, make_portfolio
from tm_docs.analysis.settings import Settings
from tm_docs.load.signed import KEY_BYTES, content_key, key_path, user_key
from tm_docs.pipeline import MAX_PAGE_ENTRY_BYTES, PAGE_CACHE, Pipeline, SiteBuild

from .gitrepo import GitRepo
from .sites import build, make_site


def _settings(root: Path) -> Settings:
    return Settings(
        root=root, models_dir=root / "models", cache_dir=root / ".tm-docs-cache", diagrams=False
    )


def _build(root: Path) -> SiteBuild:
    """A build in a fresh pipeline: what a new `mkdocs build` process does."""
    return Pipeline(_settings(root)).build()


def _contents(site: SiteBuild) -> dict[str, str | bytes]:
    return {f.path: f.content for f in site.files}


def _entries(root: Path) -> dict[str, Any]:
    folder = root / ".tm-docs-cache" / PAGE_CACHE
    found = {}
    for path in sorted(folder.glob("*.json")):
        payload = path.read_bytes().split(b"\n", 1)[1]
        found[path.name] = json.loads(payload)
    return found


def _model_entries(root: Path) -> list[str]:
    """The cache files of the model pages: the pages whose front matter has tags (the
    model's owner and STRIDE categories); the site-wide pages have none."""
    return [
        name
        for name, texts in _entries(root).items()
        if isinstance(texts, list) and "\ntags:\n" in texts[0].split("\n---\n", 1)[0]
    ]


def _model_entry(root: Path) -> Path:
    """The cache file of one model page."""
    return root / ".tm-docs-cache" / PAGE_CACHE / _model_entries(root)[0]


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, dict[str, str | bytes]]:
    """A project built once (cold): its root and the files of that build."""
    root = tmp_path / "project"
    make_site(root)
    cold = _build(root)
    assert len(cold.work.rendered) == cold.work.models > 1
    return root, _contents(cold)


def test_next_build_renders_nothing_and_gives_the_same_files(site: tuple[Path, dict]) -> None:
    root, cold = site
    warm = _build(root)
    assert warm.work.rendered == ()
    assert _contents(warm) == cold
    models = warm.work.models
    assert len(_model_entries(root)) == models
    # One entry per page and data file (not for the stylesheet and script, which are
    # tm-docs' own files), and an index of the site-wide ones.
    made = [f for f in warm.files if f.path.endswith((".md", ".csv", ".json"))]
    assert len(made) == models + 8 + 4
    assert len(_entries(root)) == len(made) + 1


def test_changed_bytes_of_an_entry_are_not_used(site: tuple[Path, dict]) -> None:
    root, cold = site
    entry = _model_entry(root)
    mac, payload = entry.read_bytes().split(b"\n", 1)
    forged = json.dumps(["# Planted <script>alert(1)</script>\n"]).encode()
    entry.write_bytes(mac + b"\n" + forged)
    warm = _build(root)
    assert len(warm.work.rendered) == 1
    assert _contents(warm) == cold
    assert entry.read_bytes() == mac + b"\n" + payload  # written again, as it was


def test_entry_signed_without_the_key_is_not_used(site: tuple[Path, dict]) -> None:
    root, cold = site
    # A pull request can compute a plausible signature only with a key it guesses.
    entry = _model_entry(root)
    payload = json.dumps(["# Planted\n"]).encode()
    mac = hmac.new(b"\0" * KEY_BYTES, payload, hashlib.sha256).hexdigest().encode()
    entry.write_bytes(mac + b"\n" + payload)
    # Another model's page copied over a page's entry, with its valid signature:
    # signatures cover the entry's name, so it is refused there.
    folder = entry.parent
    pages = [n for n in _model_entries(root) if n != entry.name]
    (folder / pages[1]).write_bytes((folder / pages[0]).read_bytes())
    warm = _build(root)
    assert len(warm.work.rendered) == 2
    assert _contents(warm) == cold


def test_symlink_and_huge_entries_are_not_used(site: tuple[Path, dict]) -> None:
    root, cold = site
    names = _model_entries(root)
    folder = root / ".tm-docs-cache" / PAGE_CACHE
    # A link to a valid copy of the entry itself, outside the cache folder.
    outside = root.parent / "copy.json"
    outside.write_bytes((folder / names[0]).read_bytes())
    (folder / names[0]).unlink()
    (folder / names[0]).symlink_to(outside)
    # A valid entry grown beyond the size any entry may have (sparse: no disk used).
    with (folder / names[1]).open("r+b") as handle:
        handle.truncate(MAX_PAGE_ENTRY_BYTES + 1)
    warm = _build(root)
    assert len(warm.work.rendered) == 2
    assert _contents(warm) == cold
    assert not (folder / names[0]).is_symlink()  # replaced, not written through
    assert outside.read_bytes() != b""


def test_edited_model_invalidates_its_page_and_the_site_wide_pages(
    site: tuple[Path, dict],
) -> None:
    root, _ = site
    before = _entries(root)
    path = sorted((root / "models").glob("*.yaml"))[0]
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("\ntitle: ", "\ntitle: Edited ", 1), encoding="utf-8")
    # Committed: an uncommitted model counts as reviewed at this very moment, which
    # changes its page on every build.
    GitRepo(root).commit("Edit a model", "2026-01-02T00:00:00Z")
    edited = _build(root)
    assert len(edited.work.rendered) == 1
    after = _entries(root)
    # The edited page's entry is new, every other model page's is kept, and the outdated
    # one is removed. (On this small site every site-wide page shows every model.)
    assert len(set(_model_entries(root)) - set(before)) == 1
    assert len(set(before) & set(_model_entries(root))) == edited.work.models - 1
    assert len(after) == len(before)
    fresh = Settings(root=root, models_dir=root / "models", cache_dir=None, diagrams=False)
    assert _contents(edited) == _contents(Pipeline(fresh).build())
    assert Pipeline(_settings(root)).build().work.rendered == ()


def test_without_a_private_key_nothing_is_cached(
    site: tuple[Path, dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, cold = site
    home = tmp_path / "other-home"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    key = user_key()
    assert key is not None and key_path().stat().st_mode & 0o777 == 0o600
    key_path().chmod(0o644)  # readable by others: not a secret any more
    assert user_key() is None
    warm = _build(root)
    assert len(warm.work.rendered) == warm.work.models  # entries of the other key unused
    assert _contents(warm) == cold


def test_a_key_cut_short_is_replaced_and_a_linked_key_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home"))
    path = key_path()
    path.parent.mkdir(parents=True)
    # What a build killed while writing its new key leaves: an empty private file.
    path.touch(mode=0o600)
    key = user_key()
    assert key is not None and user_key() == key
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    # A link where the key should be is neither read nor replaced.
    path.unlink()
    target = tmp_path / "elsewhere"
    target.write_text("", encoding="utf-8")
    path.symlink_to(target)
    assert user_key() is None
    assert path.is_symlink() and target.read_text(encoding="utf-8") == ""


def test_content_keys_are_the_same_in_every_process() -> None:
    code = (
        "from tm_docs.load.signed import content_key;"
        "print(content_key(frozenset(f'file-{i}' for i in range(50)), {'b': {1, 2}, 'a': ()}))"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2", "3")
    }
    assert len(keys) == 1
    assert keys != {content_key(frozenset({"other"}))}


def test_warm_mkdocs_build_is_the_cold_site(tmp_path: Path) -> None:
    root = tmp_path / "project"
    config = make_site(root, plugin={"cache_dir": ".tm-docs-cache"})
    assert build(config, "-v").returncode == 0
    cold = {p.relative_to(root / "site"): p.read_bytes() for p in (root / "site").rglob("*.html")}
    warm_run = build(config, "-v")
    assert warm_run.returncode == 0
    assert "0 model page(s) rendered" in warm_run.stderr
    warm = {p.relative_to(root / "site"): p.read_bytes() for p in (root / "site").rglob("*.html")}
    assert warm == cold


def test_checked_diagram_is_not_checked_again_unless_its_bytes_change(tmp_path: Path) -> None:
    root = tmp_path / "project"
    make_site(root)
    settings = Settings(root=root, models_dir=root / "models", cache_dir=root / ".tm-docs-cache")
    cold = _contents(Pipeline(settings).build())
    notes = root / ".tm-docs-cache" / "dfd-checked"
    assert len(list(notes.glob("*.json"))) == len(list((root / "models").glob("*.yaml")))
    warm = Pipeline(settings).build()
    assert _contents(warm) == cold
    # An entry planted over a checked diagram, its signed note left as it was: the
    # note names other bytes, so the entry is checked, refused and drawn again.
    entry = next((root / ".tm-docs-cache" / "dfd").glob("*.svg"))
    entry.write_bytes(entry.read_bytes().replace(b"</svg>", b"<script>alert(1)</script></svg>"))
    again = Pipeline(settings).build()
    assert any("failed the safety check" in note for note in again.notes)
    assert _contents(again) == cold


def test_a_site_split_per_owner_comes_back_whole_from_the_cache(tmp_path: Path) -> None:
    root = tmp_path / "project"
    make_site(root)
    settings = dataclasses.replace(_settings(root), owner_pages_from=2)
    cold = Pipeline(settings).build()
    owners = [f for f in cold.files if not f.in_nav]
    assert owners, "the example site is split from two models on"
    warm = Pipeline(settings).build()
    assert warm.work.rendered == ()
    described = [(f.path, f.title, f.in_nav, f.content) for f in cold.files]
    assert [(f.path, f.title, f.in_nav, f.content) for f in warm.files] == described
    # What a `mkdocs build` keeps once MkDocs holds the pages: all but their text.
    light = cold.without_page_texts()
    assert [(f.path, f.title, f.in_nav) for f in light.files] == [d[:3] for d in described]
    assert [p.path for p in light.pages] == [p.path for p in cold.pages]
    assert all(f.content == "" for f in light.files if f.title is not None)


def test_a_new_build_after_an_edit_renders_only_the_site_pages_that_show_it(
    tmp_path: Path,
) -> None:
    """Two real `mkdocs build` processes with different string hashing: after one threat's
    title is edited, the second renders that model's page and the few site-wide and owners'
    pages that show the threat, takes every other page from the cache folder, and writes
    the site a build without a cache writes."""
    portfolio = make_portfolio(tmp_path / "site", 6, commits=10)
    config = yaml.safe_load(portfolio.config.read_text(encoding="utf-8"))
    config["plugins"][1]["tm-docs"]["owner_pages_from"] = 2  # owners' pages of their own
    portfolio.config.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    assert build(portfolio.config, env={"PYTHONHASHSEED": "1"}).returncode == 0
    edit_model(portfolio, portfolio.model_ids[3], "seen in a new process")
    GitRepo(portfolio.root).commit("Retitle a threat", "2026-02-01T00:00:00Z")
    edited = build(portfolio.config, "-v", env={"PYTHONHASHSEED": "2"})
    assert edited.returncode == 0, edited.stderr
    work = re.search(r"(\d+) model page\(s\) rendered, (\d+) of (\d+) site page", edited.stderr)
    assert work is not None, edited.stderr
    models, rendered, site_pages = map(int, work.groups())
    assert models == 1 and site_pages > 20
    assert 0 < rendered < site_pages / 3
    kept = _html(portfolio.root / "site")
    shutil.rmtree(portfolio.root / ".tm-docs-cache")
    assert build(portfolio.config, env={"PYTHONHASHSEED": "3"}).returncode == 0
    assert _html(portfolio.root / "site") == kept


def _html(site: Path) -> dict[str, bytes]:
    return {p.relative_to(site).as_posix(): p.read_bytes() for p in site.rglob("*.html")}


def test_content_keys_reused_from_an_earlier_build_give_the_same_keys() -> None:
    """Hashes of dataclasses an earlier build's keys met are reused, and keys come out as
    a fresh process makes them; an object named by `known` stands for itself."""
    from dataclasses import dataclass

    from tm_docs.load.signed import ContentKeys, content_key

    @dataclass(frozen=True)
    class Row:
        name: str
        cells: tuple[object, ...]

    named = object()
    rows = [Row("a", (1, named)), Row("b", (Row("c", ()),))]
    first = ContentKeys({id(named): "the named one"})
    key = content_key(rows, keys=first)
    again = ContentKeys({id(named): "the named one"})
    again.reuse(first)
    assert content_key(rows, keys=again) == key
    assert content_key(rows, keys=ContentKeys({id(named): "the named one"})) == key
    assert content_key([*rows, Row("d", ())], keys=again) == content_key(
        [*rows, Row("d", ())], keys=ContentKeys({id(named): "the named one"})
    )
    assert content_key(rows, keys=ContentKeys({id(named): "another"})) != key
