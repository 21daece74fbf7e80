"""A site publishes each icon once, as a lossless WebP image of the icon's PNG file.

The images are checked by decoding them with Pillow: every visible pixel is the one
of the source icon.  Encoded icons are kept in the cache folder, which a pull request
can shape, so planted entries are tried too.
"""

from __future__ import annotations

import base64
import io
import json
import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest
from PIL import Image

from benchmarks.portfolio_repo import make_portfolio
from tm_docs.analysis.settings import Settings
from tm_docs.dfd.icons import ICON_RULES, _node_class, icon_path
from tm_docs.dfd.site_icons import (
    ICON_CACHE,
    MAX_ICON_ENTRY_BYTES,
    encode_webp,
    is_plain_lossless_webp,
    site_icon_name,
)
from tm_docs.load.signed import SignedCache, open_signed_cache
from tm_docs.pipeline import Pipeline, SiteBuild

from .sites import REPO

ICON_PATHS = sorted({icon_path(cast(Any, _node_class(target))) for _, target in ICON_RULES})


def _pixels(data: bytes) -> tuple[tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size, image.convert("RGBA").tobytes()


def _visible(size: tuple[int, int], rgba: bytes) -> bytes:
    """The pixels with each fully transparent one made (0, 0, 0, 0)."""
    out = bytearray(rgba)
    for i in range(0, len(out), 4):
        if out[i + 3] == 0:
            out[i : i + 3] = b"\0\0\0"
    return bytes(out)


@pytest.mark.parametrize("path", ICON_PATHS, ids=lambda p: Path(p).stem)
def test_every_icon_a_diagram_can_show_keeps_its_visible_pixels(path: str) -> None:
    source = Path(path).read_bytes()
    webp = encode_webp(source)
    assert is_plain_lossless_webp(webp)
    (size, before), (size_after, after) = _pixels(source), _pixels(webp)
    assert size_after == size
    assert _visible(size, after) == _visible(size, before)
    assert encode_webp(source) == webp  # the same bytes every time


def test_the_icons_together_are_less_than_half_their_png_files() -> None:
    png = sum(Path(p).stat().st_size for p in ICON_PATHS)
    webp = sum(len(encode_webp(Path(p).read_bytes())) for p in ICON_PATHS)
    assert webp < png / 2, (webp, png)


def _chunk(tag: bytes, body: bytes) -> bytes:
    return tag + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def _riff(*chunks: bytes) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_only_a_file_of_one_lossless_image_passes_as_a_cached_icon() -> None:
    webp = encode_webp(Path(ICON_PATHS[0]).read_bytes())
    image = webp[12:]  # the VP8L chunk
    assert is_plain_lossless_webp(webp) and is_plain_lossless_webp(_riff(image))
    refused = {
        "metadata after the image": _riff(image, _chunk(b"EXIF", b"planted")),
        "a chunk before the image": _riff(_chunk(b"XMP ", b"<x/>"), image),
        "bytes after the file": webp + b"<script>",
        "a lossy image": _riff(_chunk(b"VP8 ", b"\0" * 20)),
        "cut short": webp[:-10],
        "a PNG file": Path(ICON_PATHS[0]).read_bytes(),
        "an SVG file": b"<svg xmlns='http://www.w3.org/2000/svg'><script/></svg>",
        "nothing": b"",
    }
    for name, data in refused.items():
        assert not is_plain_lossless_webp(data), name


# --- in real builds ---------------------------------------------------------


def _settings(root: Path) -> Settings:
    return Settings(root=root, models_dir=root / "models", cache_dir=root / ".tm-docs-cache")


def _icons(site: SiteBuild) -> dict[str, bytes]:
    files = {f.path: f.content for f in site.files if f.path.startswith("threat-models/icons/")}
    assert all(isinstance(data, bytes) for data in files.values())
    return files  # type: ignore[return-value]


def _named_icons(svg: bytes) -> set[bytes]:
    return set(re.findall(rb'xlink:href="\.\./icons/([^"]+)"', svg))


@pytest.fixture
def portfolio_root(tmp_path: Path) -> Path:
    return make_portfolio(tmp_path / "site", 3, commits=5).root


def test_a_site_publishes_webp_icons_that_its_diagrams_name(portfolio_root: Path) -> None:
    site = Pipeline(_settings(portfolio_root)).build()
    icons = _icons(site)
    assert icons and all(path.endswith(".webp") for path in icons)
    named = set()
    for file in site.files:
        if file.path.endswith("/dfd.svg"):
            assert isinstance(file.content, bytes)
            named |= {f"threat-models/icons/{n.decode()}" for n in _named_icons(file.content)}
    assert named == set(icons)
    by_name = {site_icon_name(p): p for p in ICON_PATHS}
    for path, data in icons.items():
        source = Path(by_name[path.rsplit("/", 1)[1]]).read_bytes()
        assert _visible(*_pixels(data)) == _visible(*_pixels(source))


def test_a_new_process_encodes_no_icon_and_publishes_the_same_bytes(
    portfolio_root: Path,
) -> None:
    cold = Pipeline(_settings(portfolio_root)).build()
    assert any("encoded as WebP" in note for note in cold.notes)
    warm = Pipeline(_settings(portfolio_root)).build()
    assert not any("encoded as WebP" in note for note in warm.notes)
    assert _icons(warm) == _icons(cold)
    entries = sorted((portfolio_root / ".tm-docs-cache" / ICON_CACHE).glob("*.json"))
    assert len(entries) == len(_icons(cold))


def test_planted_icon_entries_are_encoded_again(portfolio_root: Path) -> None:
    cold = Pipeline(_settings(portfolio_root)).build()
    folder = portfolio_root / ".tm-docs-cache" / ICON_CACHE
    entries = sorted(folder.glob("*.json"))
    assert len(entries) >= 3
    cache = open_signed_cache(
        portfolio_root, ".tm-docs-cache", ICON_CACHE, max_bytes=MAX_ICON_ENTRY_BYTES
    )
    assert isinstance(cache, SignedCache)
    svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
    # Changed bytes under the old signature; an SVG and a WebP file with metadata
    # signed with the user's own key (what a bug could write): none is published.
    mac, payload = entries[0].read_bytes().split(b"\n", 1)
    entries[0].write_bytes(mac + b"\n" + payload.replace(b'"webp":"', b'"webp":"AAAA', 1))
    cache.put(entries[1].stem, {"webp": base64.b64encode(svg).decode()})
    good = base64.b64decode(json.loads(entries[2].read_bytes().split(b"\n", 1)[1])["webp"])
    tagged = _riff(good[12:], _chunk(b"EXIF", b"planted"))
    cache.put(entries[2].stem, {"webp": base64.b64encode(tagged).decode()})
    again = Pipeline(_settings(portfolio_root)).build()
    encoded = [n for n in again.notes if "encoded as WebP" in n]
    assert encoded and encoded[0].startswith("3 icon file(s)"), again.notes
    assert _icons(again) == _icons(cold)


def test_without_a_webp_codec_the_site_publishes_the_png_files(portfolio_root: Path) -> None:
    # A Pillow built without WebP: its codec module cannot be found.
    script = (
        "import sys; sys.modules['PIL._webp'] = None\n"
        "from pathlib import Path\n"
        "from tm_docs.analysis.settings import Settings\n"
        "from tm_docs.pipeline import Pipeline\n"
        f"root = Path({str(portfolio_root)!r})\n"
        "site = Pipeline(Settings(root=root, models_dir=root / 'models', cache_dir=None)).build()\n"
        "for f in site.files:\n"
        "    if f.path.startswith('threat-models/icons/') or f.path.endswith('dfd.svg'):\n"
        "        Path(root, 'out', f.path).parent.mkdir(parents=True, exist_ok=True)\n"
        "        Path(root, 'out', f.path).write_bytes(f.content)\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True, timeout=300)
    icons = sorted((portfolio_root / "out" / "threat-models" / "icons").iterdir())
    assert icons and all(p.suffix == ".png" for p in icons)
    sources = {Path(p).read_bytes() for p in ICON_PATHS}
    assert all(p.read_bytes() in sources for p in icons)  # the icons' own files
    for svg in (portfolio_root / "out" / "threat-models").glob("*/dfd.svg"):
        names = _named_icons(svg.read_bytes())
        assert names and all(n.endswith(b".png") for n in names)
