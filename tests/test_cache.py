"""The cache folder holds only what tm-docs wrote, and what it hands back is checked.

A pull request can add files anywhere in the repository, the cache folder
included.  These tests plant what an attacker would (a diagram with a script
under the exact name the renderer looks up, links, FIFOs) and build real sites
from real git repositories.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tm_docs.analysis.risk import RiskBands
from tm_docs.dfd.build import draw
from tm_docs.dfd.render import DiagramRenderer
from tm_docs.dfd.verify import UnsafeSvg, check_svg
from tm_docs.load.cache import CacheFolder, CacheRefused, open_cache
from tm_docs.load.models import load_file, load_models

from .conftest import EXAMPLE_MODELS, REPO
from .sites import make_site

SCRIPTED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.domain)</script>'
    b"<text>planted</text></svg>"
)
HARMLESS = b'<svg xmlns="http://www.w3.org/2000/svg"><text>planted</text></svg>'
KEY = "0123456789abcdef" * 4


def is_safe_svg(data: bytes, icons: frozenset[str] | set[str] = frozenset()) -> bool:
    try:
        check_svg(data, icons)
    except UnsafeSvg:
        return False
    return True


def _keys(models: Path) -> dict[str, str]:
    """The cache key of each model's diagram, computed as the plugin does for a site."""
    renderer = DiagramRenderer(site_icons=True)
    loaded = load_models([models])
    assert loaded.ok
    return {
        m.model.id: renderer.key(draw(m.model, RiskBands(), link_base="./")) for m in loaded.models
    }


def _git(root: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return proc.stdout


def _build(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`mkdocs build`, stopped if it does not finish (a planted FIFO must not hang it)."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-f", str(config), *args],
        cwd=config.parent,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=180,
        check=False,
    )


def _published(root: Path, model_id: str) -> bytes:
    return (root / "site" / "threat-models" / model_id / "dfd.svg").read_bytes()


def _site_icons(root: Path) -> set[str]:
    """The icon files the built site publishes, as its diagrams name them."""
    return {f"../icons/{p.name}" for p in (root / "site" / "threat-models" / "icons").iterdir()}


def _entries(root: Path) -> set[str]:
    return {p.name for p in (root / ".tm-docs-cache" / "dfd").iterdir()}


# --- planted entries in real builds -------------------------------------


def test_committed_cache_entry_is_not_published_and_its_warning_fails_strict(
    tmp_path: Path,
) -> None:
    config = make_site(tmp_path)
    key = _keys(tmp_path / "models")["checkout"]
    planted = tmp_path / ".tm-docs-cache" / "dfd" / f"{key}.svg"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(SCRIPTED)
    _git(tmp_path, "add", "-f", ".tm-docs-cache")
    _git(tmp_path, "commit", "-q", "-m", "A cached diagram")

    proc = _build(config)
    assert proc.returncode == 0, proc.stderr
    assert "the cache folder '.tm-docs-cache' is not used" in proc.stderr
    assert "git rm -r --cached .tm-docs-cache" in proc.stderr
    assert proc.stderr.count("is not used") == 1
    published = _published(tmp_path, "checkout")
    assert b"<script" not in published and b"planted" not in published
    assert is_safe_svg(published, _site_icons(tmp_path))
    # A refused folder is left as it is: nothing read, nothing written.
    assert planted.read_bytes() == SCRIPTED
    assert _entries(tmp_path) == {planted.name}

    strict = _build(config, "--strict")
    assert strict.returncode == 1
    assert "the cache folder '.tm-docs-cache' is not used" in strict.stderr


def test_untracked_planted_entry_fails_the_check_and_is_drawn_again(tmp_path: Path) -> None:
    config = make_site(tmp_path)
    keys = _keys(tmp_path / "models")
    planted = tmp_path / ".tm-docs-cache" / "dfd" / f"{keys['checkout']}.svg"
    planted.parent.mkdir(parents=True)
    planted.write_bytes(SCRIPTED)

    proc = _build(config, "--strict")
    assert proc.returncode == 0, proc.stderr
    assert "1 cached diagram(s) failed the safety check" in proc.stderr
    assert "element <script> is not allowed" in proc.stderr
    assert "data-flow diagrams: 4 drawn, 0 from the cache" in proc.stderr
    published = _published(tmp_path, "checkout")
    assert b"<script" not in published and b"planted" not in published
    assert planted.read_bytes() == published  # the bad entry was overwritten


def test_cache_folder_that_is_a_link_to_outside_gets_nothing_written(tmp_path: Path) -> None:
    root = tmp_path / "site"
    outside = tmp_path / "outside"
    outside.mkdir()
    config = make_site(root)
    (root / ".tm-docs-cache").symlink_to(outside, target_is_directory=True)

    proc = _build(config)
    assert proc.returncode == 0, proc.stderr
    assert "the cache folder '.tm-docs-cache' is not used" in proc.stderr
    assert "'.tm-docs-cache' is a symbolic link" in proc.stderr
    assert list(outside.iterdir()) == []
    assert is_safe_svg(_published(root, "checkout"), _site_icons(root))


def test_entries_that_are_links_or_fifos_are_ignored_and_replaced(tmp_path: Path) -> None:
    root = tmp_path / "site"
    config = make_site(root)
    keys = _keys(root / "models")
    folder = root / ".tm-docs-cache" / "dfd"
    folder.mkdir(parents=True)
    target = tmp_path / "elsewhere.svg"
    target.write_bytes(HARMLESS)  # would pass the check: only the link rule keeps it out
    (folder / f"{keys['checkout']}.svg").symlink_to(target)
    os.mkfifo(folder / f"{keys['identity']}.svg")

    proc = _build(config, "--strict")
    assert proc.returncode == 0, proc.stderr
    assert "data-flow diagrams: 4 drawn, 0 from the cache" in proc.stderr
    assert b"planted" not in _published(root, "checkout")
    assert target.read_bytes() == HARMLESS  # not written through the link
    for model_id in ("checkout", "identity"):
        entry = folder / f"{keys[model_id]}.svg"
        assert entry.is_file() and not entry.is_symlink()
        assert entry.read_bytes() == _published(root, model_id)


def test_new_cache_folder_ignores_itself_and_keeps_only_current_entries(tmp_path: Path) -> None:
    config = make_site(tmp_path)
    # The project's own .gitignore does not mention the cache this time.
    (tmp_path / ".gitignore").write_text("site/\n", encoding="utf-8")
    _git(tmp_path, "commit", "-q", "-am", "Only the site is ignored")
    before = _keys(tmp_path / "models")

    first = _build(config)
    assert first.returncode == 0, first.stderr
    assert "*" in (tmp_path / ".tm-docs-cache" / ".gitignore").read_text().splitlines()
    assert _git(tmp_path, "status", "--porcelain", "--untracked-files=all") == ""
    assert _entries(tmp_path) == {f"{k}.svg" for k in before.values()}

    model = tmp_path / "models" / "checkout.yaml"
    text = model.read_text(encoding="utf-8")
    model.write_text(
        text.replace("title: Public internet", "title: The internet", 1), encoding="utf-8"
    )
    after = _keys(tmp_path / "models")
    assert after["checkout"] != before["checkout"]

    second = _build(config)
    assert second.returncode == 0, second.stderr
    assert "data-flow diagrams: 1 drawn, 3 from the cache" in second.stderr
    assert _entries(tmp_path) == {f"{k}.svg" for k in after.values()}


# --- the cache folder rules, without a build ------------------------------


def test_folder_outside_the_project_is_refused(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    for cache_dir in ("../elsewhere", str(tmp_path / "elsewhere"), ".", "a/../.."):
        refused = open_cache(tmp_path / "project", cache_dir, "dfd", suffix=".svg", max_bytes=10)
        assert isinstance(refused, CacheRefused), cache_dir
        assert "not a folder inside the project" in str(refused)
        assert "cache_dir" in str(refused)


def test_link_on_the_way_to_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "build").symlink_to(tmp_path / "real", target_is_directory=True)
    refused = open_cache(tmp_path, "build/cache", "dfd", suffix=".svg", max_bytes=10)
    assert isinstance(refused, CacheRefused)
    assert "'build' is a symbolic link" in str(refused)
    # The kind's folder inside the cache counts too.
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "dfd").symlink_to(tmp_path / "real", target_is_directory=True)
    refused = open_cache(tmp_path, "cache", "dfd", suffix=".svg", max_bytes=10)
    assert isinstance(refused, CacheRefused)
    assert "'cache/dfd' is a symbolic link" in str(refused)
    assert list((tmp_path / "real").iterdir()) == []


def test_folder_with_a_tracked_file_is_refused_and_untracked_is_used(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q")
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "notes.txt").write_text("x")
    assert isinstance(open_cache(tmp_path, "cache", "dfd", suffix=".svg", max_bytes=9), CacheFolder)
    _git(tmp_path, "add", "cache/notes.txt")
    refused = open_cache(tmp_path, "cache", "dfd", suffix=".svg", max_bytes=9)
    assert isinstance(refused, CacheRefused)
    assert "git tracks files in it, such as 'cache/notes.txt'" in str(refused)


def _folder(tmp_path: Path, max_bytes: int = 100) -> CacheFolder:
    opened = open_cache(tmp_path, "cache", "dfd", suffix=".svg", max_bytes=max_bytes)
    assert isinstance(opened, CacheFolder), opened
    return opened


def test_entries_round_trip_and_oversized_ones_are_misses(tmp_path: Path) -> None:
    cache = _folder(tmp_path, max_bytes=10)
    assert cache.get(KEY) is None
    assert cache.put(KEY, b"0123456789")
    assert cache.get(KEY) == b"0123456789"
    assert not cache.put(KEY, b"01234567890")  # too big to store
    cache.path(KEY).write_bytes(b"01234567890")  # or planted too big
    assert cache.get(KEY) is None
    (tmp_path / "cache" / "dfd" / "big").mkdir()
    with pytest.raises(ValueError, match="not a cache key"):
        cache.get("../../etc/passwd")


def test_prune_removes_only_unused_entries_of_its_own(tmp_path: Path) -> None:
    cache = _folder(tmp_path)
    used, unused = "a" * 64, "b" * 64
    for key in (used, unused):
        cache.put(key, b"<svg/>")
    folder = tmp_path / "cache" / "dfd"
    strangers = ["notes.svg", f"{unused}.png", "README"]
    for name in strangers:
        (folder / name).write_text("keep me")
    (folder / f"{'c' * 64}.svg").mkdir()  # a folder with an entry's name is left alone
    assert cache.prune([used]) == 1
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{used}.svg", f"{'c' * 64}.svg", *strangers]
    )
    assert (tmp_path / "cache" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_existing_folder_gets_no_gitignore(tmp_path: Path) -> None:
    (tmp_path / "cache").mkdir()
    cache = _folder(tmp_path)
    assert cache.put(KEY, b"<svg/>")
    assert not (tmp_path / "cache" / ".gitignore").exists()


# --- the SVG check --------------------------------------------------------


@pytest.fixture(scope="module")
def checkout_svg() -> bytes:
    model, problems = load_file(EXAMPLE_MODELS / "checkout.yaml")
    assert model is not None, problems
    return DiagramRenderer().render(draw(model, link_base="./"))


@pytest.mark.parametrize(
    "path",
    [*sorted(EXAMPLE_MODELS.glob("*.yaml")), REPO / "tests/fixtures/hostile/hostile.yaml"],
    ids=lambda p: p.stem,
)
@pytest.mark.parametrize("link_base", ["./", "index.html", "", "../checkout/"])
def test_real_diagrams_pass_the_check(path: Path, link_base: str) -> None:
    model, problems = load_file(path)
    assert model is not None, problems
    data = DiagramRenderer().render(draw(model, link_base=link_base))
    check_svg(data)
    assert b"<!DOCTYPE" not in data


def _after_open(svg: bytes, markup: bytes) -> bytes:
    end = svg.index(b">", svg.index(b"<svg")) + 1
    return svg[:end] + markup + svg[end:]


def _first_link(svg: bytes, new: bytes) -> bytes:
    start = svg.index(b'<a xlink:href="') + len(b'<a xlink:href="')
    return svg[:start] + new + svg[svg.index(b'"', start) :]


REFUSED = {
    "script": (lambda s: _after_open(s, b"<script>alert(1)</script>"), "<script>"),
    "foreignObject": (
        lambda s: _after_open(
            s,
            b'<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>',
        ),
        "<foreignObject>",
    ),
    "style element": (lambda s: _after_open(s, b"<style>*{fill:red}</style>"), "<style>"),
    "animation": (
        lambda s: _after_open(s, b'<set attributeName="href" to="javascript:alert(1)"/>'),
        "<set>",
    ),
    "html element": (
        lambda s: _after_open(s, b'<b xmlns="http://www.w3.org/1999/xhtml">x</b>'),
        "not an SVG element",
    ),
    "onload": (lambda s: s.replace(b"<svg ", b'<svg onload="alert(1)" ', 1), "event handler"),
    "onclick in a group": (
        lambda s: s.replace(b'<g id="', b'<g onclick="alert(1)" id="', 1),
        "event handler",
    ),
    "javascript link": (lambda s: _first_link(s, b"javascript:alert(1)"), "refers to"),
    "external link": (lambda s: _first_link(s, b"https://evil.example/#x"), "refers to"),
    "protocol-relative link": (lambda s: _first_link(s, b"//evil.example/#x"), "refers to"),
    "external use": (
        lambda s: s.replace(b'<use xlink:href="#', b'<use xlink:href="other.svg#', 1),
        "refers to",
    ),
    "external image": (
        lambda s: _after_open(
            s, b'<image xlink:href="https://evil.example/x.png" width="1" height="1"/>'
        ),
        "refers to",
    ),
    "external url() in style": (
        lambda s: s.replace(
            b'<g id="', b'<g style="fill:url(https://evil.example/x.svg#p)" id="', 1
        ),
        "outside the file",
    ),
    "doctype with entity": (
        lambda s: s.replace(b"<svg ", b'<!DOCTYPE svg [<!ENTITY e "x">]>\n<svg ', 1),
        "DOCTYPE",
    ),
    "stylesheet instruction": (
        lambda s: s.replace(
            b"<svg ", b'<?xml-stylesheet href="https://evil.example/x.css"?><svg ', 1
        ),
        "processing instruction",
    ),
    "not well-formed": (lambda s: s[: len(s) // 2], "not well-formed"),
    "not utf-8": (lambda s: s.replace(b"Public", "Publíc".encode("latin-1"), 1), "UTF-8"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_check_refuses(checkout_svg: bytes, name: str) -> None:
    change, message = REFUSED[name]
    bad = change(checkout_svg)
    assert bad != checkout_svg, "the change must apply to real output"
    with pytest.raises(UnsafeSvg, match=message.replace("(", r"\(")):
        check_svg(bad)
    assert not is_safe_svg(bad)


# --- diagrams that refer to the site's icon files --------------------------


@pytest.fixture(scope="module")
def site_svg() -> tuple[bytes, frozenset[str]]:
    model, problems = load_file(EXAMPLE_MODELS / "checkout.yaml")
    assert model is not None, problems
    renderer = DiagramRenderer(site_icons=True)
    drawn = draw(model, link_base="./")
    return renderer.render(drawn), renderer.icon_hrefs(drawn)


def test_a_site_diagram_names_only_its_own_icon_files(
    site_svg: tuple[bytes, frozenset[str]],
) -> None:
    data, icons = site_svg
    assert icons and b"base64" not in data
    check_svg(data, icons)
    # The same file is refused where the site's icons are not allowed (tm-docs dfd).
    with pytest.raises(UnsafeSvg, match=r"refers to '\.\./icons/"):
        check_svg(data)
    # ... and where another set of icon files is: each reference is named exactly.
    with pytest.raises(UnsafeSvg, match="refers to"):
        check_svg(data, frozenset(sorted(icons)[1:]))


ICON_REFUSED = {
    "other folder": b"../other/0123456789abcdef.png",
    "up two folders": b"../../icons/0123456789abcdef.png",
    "absolute path": b"/icons/0123456789abcdef.png",
    "other site": b"https://evil.example/icons/0123456789abcdef.png",
    "script file": b"../icons/0123456789abcdef.svg",
    "javascript": b"javascript:alert(1)",
}


@pytest.mark.parametrize("name", list(ICON_REFUSED))
def test_site_icon_references_outside_the_allowed_files_are_refused(
    site_svg: tuple[bytes, frozenset[str]], name: str
) -> None:
    data, icons = site_svg
    first = sorted(icons)[0].encode()
    bad = data.replace(first, ICON_REFUSED[name])
    assert bad != data
    with pytest.raises(UnsafeSvg, match="refers to"):
        check_svg(bad, icons)


def test_an_icon_file_reference_outside_a_symbol_is_refused(
    site_svg: tuple[bytes, frozenset[str]],
) -> None:
    data, icons = site_svg
    href = sorted(icons)[0].encode()
    bad = _after_open(data, b'<image xlink:href="' + href + b'" width="1" height="1"/>')
    with pytest.raises(UnsafeSvg, match="refers to"):
        check_svg(bad, icons)


def test_allowed_icon_files_must_look_like_site_icons() -> None:
    with pytest.raises(ValueError, match="not a site icon file"):
        check_svg(b"<svg xmlns='http://www.w3.org/2000/svg'/>", ["../../etc/passwd"])
