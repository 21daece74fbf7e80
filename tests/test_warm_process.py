"""A new build process reuses each unchanged model's loading, analysis and drawing from the
cache folder.

Validated models, their analyses and their DOT sources are signed entries of the project's
cache folder (`models/`, `analyses/`, `dfd-drawn/`).  The folder is untrusted: an entry that
fails its signature is computed afresh, and whatever the cache holds, the site is the one a
cold build makes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
from pathlib import Path

import pytest

from benchmarks.portfolio_repo import edit_model, make_portfolio
from tm_docs.analysis.settings import Settings
from tm_docs.analysis.stored import ANALYSIS_CACHE, MAX_ANALYSIS_ENTRY_BYTES
from tm_docs.dfd.drawings import DRAWING_CACHE
from tm_docs.load.models import MODEL_CACHE
from tm_docs.load.signed import SignedCache, open_signed_cache
from tm_docs.pipeline import BuildError, Pipeline, SiteBuild

from .sites import build

MODELS = 4
# A dismissal that matches no suggestion: a warning that names its line in the file.
STALE_DISMISSAL = (
    "dismissed:\n  - suggestion: no-such-rule@nowhere\n    reason: Looked at, does not apply.\n"
)
FORGED = "forged-by-the-test-7f3e"


def _settings(root: Path, *, cache: bool = True) -> Settings:
    return Settings(
        root=root,
        models_dir=root / "models",
        cache_dir=root / ".tm-docs-cache" if cache else None,
    )


def _build(root: Path, *, cache: bool = True) -> SiteBuild:
    """A build in a fresh pipeline: what a new `mkdocs build` process does."""
    return Pipeline(_settings(root, cache=cache)).build()


def _contents(site: SiteBuild) -> dict[str, str | bytes]:
    return {f.path: f.content for f in site.files}


def _entries(root: Path, kind: str) -> list[Path]:
    return sorted((root / ".tm-docs-cache" / kind).glob("*.json"))


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, SiteBuild]:
    """A portfolio with a stale dismissal in its first model, built once (cold)."""
    portfolio = make_portfolio(tmp_path / "site", MODELS, commits=10)
    with portfolio.model_file(portfolio.model_ids[0]).open("a", encoding="utf-8") as file:
        file.write(STALE_DISMISSAL)
    cold = _build(portfolio.root)
    assert len(cold.work.loaded) == len(cold.work.drawn) == MODELS
    return portfolio.root, cold


def test_a_new_process_loads_and_draws_nothing_and_builds_the_same_site(
    project: tuple[Path, SiteBuild],
) -> None:
    root, cold = project
    warm = _build(root)
    assert warm.work.loaded == warm.work.analysed == warm.work.drawn == ()
    assert _contents(warm) == _contents(cold)  # pages, SVG, icons, CSV and JSON
    fresh = _build(root, cache=False)
    assert _contents(warm) == _contents(fresh)
    for kind in (MODEL_CACHE, ANALYSIS_CACHE, DRAWING_CACHE):
        assert len(_entries(root, kind)) == MODELS, kind
    # The analyses read back are the ones made afresh, object for object.
    assert warm.report.models == fresh.report.models
    assert warm.report.findings() == fresh.report.findings()


def test_warnings_from_cached_models_are_the_same_with_their_positions(
    project: tuple[Path, SiteBuild],
) -> None:
    root, cold = project
    warm = _build(root)
    assert warm.work.loaded == warm.work.analysed == ()
    stale = [w for w in warm.warnings if "no-such-rule@nowhere" in w]
    assert len(stale) == 1
    # The position is read from the file when the message asks for it, not 1:1.
    (path,) = [p for p in (root / "models").glob("*.yaml") if "@nowhere" in p.read_text("utf-8")]
    lines = path.read_text(encoding="utf-8").splitlines()
    line = lines.index("  - suggestion: no-such-rule@nowhere")
    assert f"{path.name}:{line + 1}:17: warning: dismissal of" in stale[0], stale
    assert warm.warnings == cold.warnings


def _forge(entry: Path, *, key: bytes | None = None) -> None:
    """Give an entry other content (a model's title, a drawing's DOT); keep its old
    signature, or sign it with a key that is not the user's."""
    mac, payload = entry.read_bytes().split(b"\n", 1)
    value = json.loads(payload)
    if "model" in value:
        model = json.loads(value["model"])
        model["title"] = FORGED
        value["model"] = json.dumps(model)
    elif "coverage" in value:
        value["coverage"][0][2] = FORGED  # the first row's element title
        value["suggestions"] = []  # and no suggested threats
    else:
        value["source"] = value["source"].replace("{", f'{{ "{FORGED}";', 1)
    changed = json.dumps(value, separators=(",", ":")).encode()
    if key is not None:
        kind = entry.parent.name.encode()
        signed = hmac.new(key, kind + b"\0" + entry.stem.encode() + b"\0", hashlib.sha256)
        signed.update(changed)
        mac = signed.hexdigest().encode()
    entry.write_bytes(mac + b"\n" + changed)


@pytest.mark.parametrize("kind", [MODEL_CACHE, ANALYSIS_CACHE, DRAWING_CACHE])
@pytest.mark.parametrize("key", [None, b"k" * 32], ids=["changed bytes", "another key"])
def test_a_forged_entry_is_not_used_and_is_made_again(
    project: tuple[Path, SiteBuild], kind: str, key: bytes | None
) -> None:
    root, cold = project
    entries = _entries(root, kind)
    for entry in entries:
        _forge(entry, key=key)
    warm = _build(root)
    redone = {
        MODEL_CACHE: warm.work.loaded,
        ANALYSIS_CACHE: warm.work.analysed,
        DRAWING_CACHE: warm.work.drawn,
    }[kind]
    assert len(redone) == MODELS
    assert _contents(warm) == _contents(cold)
    assert not any(FORGED in str(content) for content in _contents(warm).values())
    # Made again and signed anew: the next build uses them.
    again = _build(root)
    assert again.work.loaded == again.work.analysed == again.work.drawn == ()


@pytest.mark.parametrize(
    "change",
    [
        "a rule that is not there",
        "another rule at its place",
        "a threat the model does not have",
        "an element the model does not have",
        "a STRIDE category that does not exist",
        "a triage state that does not exist",
        "a warning without its position",
        "another format",
        "not an analysis",
    ],
)
def test_a_signed_analysis_that_does_not_fit_the_model_is_made_again(
    project: tuple[Path, SiteBuild], change: str
) -> None:
    """Signed with the user's own key (as a bug, or an older tm-docs, might have written
    it), an entry is still read with care: what does not fit its model is not used."""
    root, cold = project
    cache = open_signed_cache(
        root, ".tm-docs-cache", ANALYSIS_CACHE, max_bytes=MAX_ANALYSIS_ENTRY_BYTES
    )
    assert isinstance(cache, SignedCache)
    for entry in _entries(root, ANALYSIS_CACHE):
        value = cache.get(entry.stem)
        assert isinstance(value, dict) and value["suggestions"], entry
        first = value["suggestions"][0]  # [rule place, rule id, kind, element, triage, ...]
        if change == "a rule that is not there":
            first[0] = 10_000
        elif change == "another rule at its place":
            first[0] = first[0] + 1 if first[0] == 0 else first[0] - 1
        elif change == "a threat the model does not have":
            value["coverage"][0][4] = [[value["coverage"][0][4][0][0], ["T-NOWHERE"], None]]
        elif change == "an element the model does not have":
            first[3] = "nowhere"
        elif change == "a STRIDE category that does not exist":
            value["coverage"][0][4][0][0] = "smuggling"
        elif change == "a triage state that does not exist":
            first[4] = "ignored"
        elif change == "a warning without its position":
            value["warnings"] = [["models/x.yaml", "3", 1, "a message", "warning"]]
        elif change == "another format":
            value["format"] = 0
        else:
            value = ["not", "an", "analysis"]
        assert cache.put(entry.stem, value)
    warm = _build(root)
    assert warm.work.loaded == () and len(warm.work.analysed) == MODELS
    assert _contents(warm) == _contents(cold)
    assert warm.warnings == cold.warnings


def test_a_drawing_entry_with_other_dot_in_it_does_not_reach_the_diagram(
    project: tuple[Path, SiteBuild],
) -> None:
    root, cold = project
    shutil.rmtree(root / ".tm-docs-cache" / "dfd")  # every SVG laid out from its DOT again
    for entry in _entries(root, DRAWING_CACHE):
        mac, payload = entry.read_bytes().split(b"\n", 1)
        entry.write_bytes(mac + b"\n" + payload.replace(b"digraph", b"digraph injected", 1))
    warm = _build(root)
    assert len(warm.work.drawn) == MODELS
    assert _contents(warm) == _contents(cold)


def test_an_edited_model_is_loaded_and_drawn_again_and_its_old_entries_go(
    tmp_path: Path,
) -> None:
    portfolio = make_portfolio(tmp_path / "site", MODELS, commits=10)
    root = portfolio.root
    _build(root)
    edited = portfolio.model_ids[1]
    title = edit_model(portfolio, edited, "in a new process")
    again = _build(root)
    assert len(again.work.loaded) == 1 and again.work.loaded[0].endswith(f"{edited}.yaml")
    assert again.work.drawn == again.work.analysed == (edited,)
    assert _contents(again) == _contents(_build(root, cache=False))
    page = next(f for f in again.files if f.path == f"threat-models/{edited}/index.md")
    assert title in str(page.content)
    for kind in (MODEL_CACHE, ANALYSIS_CACHE, DRAWING_CACHE):
        assert len(_entries(root, kind)) == MODELS, kind


def test_a_broken_file_after_a_cached_load_still_says_where(tmp_path: Path) -> None:
    portfolio = make_portfolio(tmp_path / "site", MODELS, commits=10)
    root = portfolio.root
    _build(root)
    path = portfolio.model_file(portfolio.model_ids[2])
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = "title: [unclosed"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(BuildError) as raised:
        _build(root)
    (problem,) = raised.value.problems
    assert problem.file.endswith(path.name) and problem.line > 3


def test_a_second_mkdocs_build_reads_models_and_drawings_from_the_cache(tmp_path: Path) -> None:
    portfolio = make_portfolio(tmp_path / "site", MODELS, commits=10)
    cold = build(portfolio.config)
    assert cold.returncode == 0, cold.stderr
    site = portfolio.root / "site"
    first = {p: p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}
    warm = build(portfolio.config)
    assert warm.returncode == 0, warm.stderr
    assert f"work: 0 of {MODELS} model file(s) loaded, 0 analysed" in warm.stderr
    assert "0 graph(s) built" in warm.stderr
    second = {p: p.read_bytes() for p in sorted(site.rglob("*")) if p.is_file()}
    gzip = [p for p in first if p.name == "sitemap.xml.gz"]  # carries the time of the build
    assert {p: b for p, b in first.items() if p not in gzip} == {
        p: b for p, b in second.items() if p not in gzip
    }
