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
import zlib
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
    SiteIcons,
    encode_webp,
    is_plain_lossless_webp,
    png_size,
    published_as_webp,
    site_icon_name,
)
from tm_docs.load.signed import SignedCache, open_signed_cache
from tm_docs.pipeline import Pipeline, SiteBuild

from .sites import REPO

ICON_PATHS = sorted({icon_path(cast(Any, _node_class(target))) for _, target in ICON_RULES})
WEBP_PATHS = [path for path in ICON_PATHS if published_as_webp(path)]


def _pixels(data: bytes) -> tuple[tuple[int, int], bytes]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size, image.convert("RGBA").tobytes()


def _visible(rgba: bytes) -> bytes:
    """The pixels with each fully transparent one made (0, 0, 0, 0)."""
    out = bytearray(rgba)
    for i in range(0, len(out), 4):
        if out[i + 3] == 0:
            out[i : i + 3] = b"\0\0\0"
    return bytes(out)


@pytest.mark.parametrize("path", WEBP_PATHS, ids=lambda p: Path(p).stem)
def test_every_icon_a_diagram_can_show_keeps_its_visible_pixels(path: str) -> None:
    source = Path(path).read_bytes()
    webp = encode_webp(source)
    assert is_plain_lossless_webp(webp, png_size(source))
    (size, before), (size_after, after) = _pixels(source), _pixels(webp)
    assert size_after == size
    assert _visible(after) == _visible(before)
    assert encode_webp(source) == webp  # the same bytes every time


def test_the_icons_together_are_less_than_half_their_png_files() -> None:
    assert len(WEBP_PATHS) >= 0.9 * len(ICON_PATHS)  # nearly all are plain sRGB files
    png = sum(Path(p).stat().st_size for p in WEBP_PATHS)
    webp = sum(len(encode_webp(Path(p).read_bytes())) for p in WEBP_PATHS)
    assert webp < png / 2, (webp, png)


def _with_chunk(png: bytes, kind: bytes, body: bytes) -> bytes:
    """The PNG file with one more chunk right after its header chunk."""
    chunk = struct.pack(">I", len(body)) + kind + body
    chunk += struct.pack(">I", zlib.crc32(kind + body))
    return png[:33] + chunk + png[33:]


SRGB_CHROMATICITIES = struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)


@pytest.mark.parametrize(
    "chunks, webp",
    [
        ([], True),
        ([(b"sRGB", b"\0")], True),
        ([(b"gAMA", struct.pack(">I", 45455)), (b"cHRM", SRGB_CHROMATICITIES)], True),
        ([(b"iCCP", b"Display\0\0" + zlib.compress(b"profile"))], False),
        ([(b"gAMA", struct.pack(">I", 100000))], False),
        (
            [(b"cHRM", struct.pack(">8I", 28021, 29600, 64733, 33636, 28904, 60520, 12350, 4240))],
            False,
        ),
    ],
    ids=[
        "plain",
        "sRGB",
        "sRGB's gamma and primaries",
        "ICC profile",
        "other gamma",
        "other primaries",
    ],
)
def test_an_icon_in_another_colour_space_is_published_as_its_png_file(
    tmp_path: Path, chunks: list[tuple[bytes, bytes]], webp: bool
) -> None:
    png = Image.new("RGBA", (4, 4), (200, 30, 30, 255))
    out = io.BytesIO()
    png.save(out, "PNG")
    data = out.getvalue()
    for kind, body in chunks:
        data = _with_chunk(data, kind, body)
    path = tmp_path / "icon.png"
    path.write_bytes(data)
    assert Image.open(path).size == (4, 4)  # still a PNG file Pillow reads
    assert published_as_webp(str(path)) is webp
    assert site_icon_name(str(path)).endswith(".webp" if webp else ".png")
    files = SiteIcons().files({site_icon_name(str(path)): str(path)})
    (published,) = files.values()
    assert (published == data) is not webp


def test_a_transparent_colour_of_an_rgb_icon_stays_transparent() -> None:
    image = Image.new("RGB", (4, 4), (255, 255, 255))
    image.putpixel((0, 0), (10, 20, 30))
    out = io.BytesIO()
    image.save(out, "PNG", transparency=(255, 255, 255))
    _, rgba = _pixels(encode_webp(out.getvalue()))
    assert rgba[3] == 255 and rgba[7] == 0  # the first pixel opaque, the next transparent


def _chunk(tag: bytes, body: bytes) -> bytes:
    return tag + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")


def _riff(*chunks: bytes) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_only_a_file_of_one_lossless_image_passes_as_a_cached_icon() -> None:
    source = Path(WEBP_PATHS[0]).read_bytes()
    webp = encode_webp(source)
    image = webp[12:]  # the VP8L chunk
    size = png_size(source)
    assert size is not None
    assert is_plain_lossless_webp(webp, size) and is_plain_lossless_webp(_riff(image), size)
    odd = next(
        w for w in (encode_webp(Path(p).read_bytes()) for p in WEBP_PATHS) if w[16] & 1
    )  # a chunk of odd length, with its pad byte
    assert is_plain_lossless_webp(odd)
    header = bytearray(webp)
    header[24] |= 0x20  # version 1
    refused = {
        "another RIFF size": webp[:4] + struct.pack("<I", len(webp)) + webp[8:],
        "another signature byte": webp[:20] + b"\x2e" + webp[21:],
        "a version other than 0": bytes(header),
        "a pad byte that is not zero": odd[:-1] + b"\x01",
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
    # ... and an image of another size than its icon's.
    assert not is_plain_lossless_webp(webp, (size[0] + 1, size[1]))
    assert not is_plain_lossless_webp(webp, (size[0], size[1] + 1))


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
    assert sum(path.endswith(".webp") for path in icons) >= 3
    named = set()
    for file in site.files:
        if file.path.endswith("/dfd.svg"):
            assert isinstance(file.content, bytes)
            named |= {f"threat-models/icons/{n.decode()}" for n in _named_icons(file.content)}
    assert named == set(icons)
    by_name = {site_icon_name(p): p for p in ICON_PATHS}
    for path, data in icons.items():
        source = by_name[path.rsplit("/", 1)[1]]
        if published_as_webp(source):
            assert _visible(_pixels(data)[1]) == _visible(_pixels(Path(source).read_bytes())[1])
        else:  # an icon with a colour profile: its own file
            assert path.endswith(".png") and data == Path(source).read_bytes()


def test_a_new_process_encodes_no_icon_and_publishes_the_same_bytes(
    portfolio_root: Path,
) -> None:
    cold = Pipeline(_settings(portfolio_root)).build()
    assert any("encoded as WebP" in note for note in cold.notes)
    warm = Pipeline(_settings(portfolio_root)).build()
    assert not any("encoded as WebP" in note for note in warm.notes)
    assert _icons(warm) == _icons(cold)
    entries = sorted((portfolio_root / ".tm-docs-cache" / ICON_CACHE).glob("*.json"))
    webp = [path for path in _icons(cold) if path.endswith(".webp")]
    assert len(entries) == len(webp) >= 3  # the icons published as their PNG files need none


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
    # A build with WebP first, so that the cache folder holds diagrams that name the
    # WebP files; then a Pillow built without WebP (its codec module cannot be loaded),
    # with the same cache folder.
    with_webp = Pipeline(_settings(portfolio_root)).build()
    assert any(path.endswith(".webp") for path in _icons(with_webp))
    script = (
        "import sys; sys.modules['PIL._webp'] = None\n"
        "from pathlib import Path\n"
        "from tm_docs.analysis.settings import Settings\n"
        "from tm_docs.pipeline import Pipeline\n"
        f"root = Path({str(portfolio_root)!r})\n"
        "settings = Settings(root=root, models_dir=root / 'models', "
        "cache_dir=root / '.tm-docs-cache')\n"
        "site = Pipeline(settings).build()\n"
        "print(*site.notes, *site.warnings, sep='\\n')\n"
        "for f in site.files:\n"
        "    if f.path.startswith('threat-models/icons/') or f.path.endswith('dfd.svg'):\n"
        "        Path(root, 'out', f.path).parent.mkdir(parents=True, exist_ok=True)\n"
        "        Path(root, 'out', f.path).write_bytes(f.content)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        check=True,
        timeout=300,
        capture_output=True,
        text=True,
    )
    # Drawn again (their cache key names the icon files), not refused as unsafe.
    assert "data-flow diagrams: 3 drawn, 0 from the cache" in run.stdout, run.stdout
    assert "safety check" not in run.stdout
    icons = sorted((portfolio_root / "out" / "threat-models" / "icons").iterdir())
    assert icons and all(p.suffix == ".png" for p in icons)
    assert {p.stem for p in icons} == {Path(p).stem for p in _icons(with_webp)}
    sources = {Path(p).read_bytes() for p in ICON_PATHS}
    assert all(p.read_bytes() in sources for p in icons)  # the icons' own files
    for svg in (portfolio_root / "out" / "threat-models").glob("*/dfd.svg"):
        names = _named_icons(svg.read_bytes())
        assert names and all(n.endswith(b".png") for n in names)


def test_an_icon_no_longer_shown_is_forgotten_and_encoded_again_when_it_returns(
    portfolio_root: Path,
) -> None:
    cache = open_signed_cache(
        portfolio_root, ".tm-docs-cache", ICON_CACHE, max_bytes=MAX_ICON_ENTRY_BYTES
    )
    assert isinstance(cache, SignedCache)
    first, second = WEBP_PATHS[:2]
    both = {site_icon_name(first): first, site_icon_name(second): second}
    icons = SiteIcons()
    icons.disk = cache
    before = icons.files(both)
    assert sorted(icons.encoded) == sorted(both)
    icons.prune()
    assert icons.files({site_icon_name(first): first}) and icons.encoded == []
    assert icons.prune() == 1  # the second icon's entry goes, in memory too
    assert len(list(cache.folder.folder.glob("*.json"))) == 1
    assert icons.files(both) == before
    assert icons.encoded == [site_icon_name(second)]  # and its entry is written again
    assert len(list(cache.folder.folder.glob("*.json"))) == 2
