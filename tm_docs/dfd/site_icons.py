"""The icon files of a site: each icon a diagram shows, stored once, as small as it can be.

The icons `diagrams` ships are PNG files that were never squeezed.  A site publishes
each one as a lossless WebP image instead: every visible pixel is the same (only the
colour of fully transparent pixels may differ, and no one sees it), in less than half
the bytes, and every current browser shows it.  The icon's own file is published as it
is where Pillow cannot write WebP, where the icon is not a PNG file, and where its PNG
file names a colour space other than sRGB (an ICC profile, say): a browser shows such a
PNG through its colour space, and a WebP image without it would look different.

Encoding costs some 10 ms an icon, so the images are kept in the project's cache folder,
signed like its other entries; a warm build loads only Pillow's WebP module (to know it
is there), not Pillow's image library.

`tm-docs dfd` writes a diagram that stands alone: it embeds the PNG files themselves
(see `svg.embed_images`), because programs other than browsers that read SVG, such as
converters to PDF, do not all read WebP.
"""

from __future__ import annotations

import base64
import hashlib
import io
import struct
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import import_module, metadata
from pathlib import Path

from ..load.signed import SignedCache, code_digest, content_key
from .svg import ICON_TYPES, PNG_SIGNATURE, png_size

ICON_CACHE = "icons"  # the kind of entry in the cache folder
MAX_ICON_ENTRY_BYTES = 2 * 1024 * 1024
# libwebp's effort for lossless images (0-6): 2 is within 1-3 % of the smallest
# file of 6, at a fiftieth of its time.
_METHOD = 2
# What a PNG file that names sRGB in the older way says: the gamma and the
# chromaticities (white point, red, green, blue) of sRGB, times 100,000.
_SRGB_GAMMA = 45455
_SRGB_CHROMATICITIES = (31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)


@cache
def can_write_webp() -> bool:
    """Whether the installed Pillow has its WebP codec (its small C module alone is loaded)."""
    try:
        import_module("PIL._webp")
    except (ImportError, OSError):
        return False
    return True


@cache
def _source(path: str) -> bytes:
    return Path(path).read_bytes()


@cache
def _source_digest(path: str) -> str:
    return hashlib.sha256(_source(path)).hexdigest()


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """The chunks of a PNG file (type, body), up to the first that does not fit."""
    at = len(PNG_SIGNATURE)
    while at + 12 <= len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        if at + 12 + length > len(data):
            return
        yield data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        at += 12 + length


def _shown_as_srgb(png: bytes) -> bool:
    """Whether a browser shows a PNG file's pixels as sRGB values: it names no colour
    space, names sRGB, or gives the gamma and chromaticities of sRGB."""
    for kind, body in _png_chunks(png):
        if kind == b"iCCP":
            return False
        if kind == b"gAMA" and struct.unpack(">I", body[:4].rjust(4, b"\0"))[0] != _SRGB_GAMMA:
            return False
        if kind == b"cHRM" and struct.unpack(">8I", body[:32].rjust(32, b"\0")) != (
            _SRGB_CHROMATICITIES
        ):
            return False
        if kind == b"IDAT":
            return True  # colour-space chunks come before the image data
    return True


@cache
def published_as_webp(path: str) -> bool:
    """Whether a site publishes the icon file `path` as a WebP image."""
    source = _source(path)
    return can_write_webp() and source.startswith(PNG_SIGNATURE) and _shown_as_srgb(source)


@cache
def site_icon_name(path: str) -> str:
    """The name of an icon's file in a site: a hash of the source icon's bytes, so equal
    icons share a file, and the suffix of the format the site publishes it in."""
    stem = _source_digest(path)[:16]
    if published_as_webp(path):
        return stem + ".webp"
    suffix = Path(path).suffix.lower()
    return stem + (".jpg" if suffix == ".jpeg" else suffix if suffix in ICON_TYPES else ".png")


def encode_webp(png: bytes) -> bytes:
    """A lossless WebP image of the same pixels as the PNG image `png`."""
    from PIL import Image  # only when an icon is not in the cache

    with Image.open(io.BytesIO(png)) as opened:
        # A transparent colour of an RGB or palette image becomes the alpha channel.
        keep = opened.mode in {"RGB", "RGBA"} and "transparency" not in opened.info
        image = opened if keep else opened.convert("RGBA")
        out = io.BytesIO()
        # No metadata: a published icon carries pixels only.
        image.save(out, "WEBP", lossless=True, quality=100, method=_METHOD)
    return out.getvalue()


def is_plain_lossless_webp(data: bytes, size: tuple[int, int] | None = None) -> bool:
    """Whether `data` is a WebP file of one lossless image and nothing else: its RIFF
    header, then a single VP8L chunk that fills the rest of the file (with a zero pad
    byte after a chunk of odd length), of version 0 and, with `size`, of that size."""
    if len(data) < 25 or data[:4] != b"RIFF" or data[8:16] != b"WEBPVP8L":
        return False
    (riff_size,) = struct.unpack("<I", data[4:8])
    (chunk_size,) = struct.unpack("<I", data[16:20])
    padded = chunk_size + (chunk_size & 1)
    if riff_size != len(data) - 8 or 20 + padded != len(data) or chunk_size < 5:
        return False
    if chunk_size & 1 and data[-1] != 0:
        return False
    # The image header: the signature byte, then 14 bits of width - 1, 14 bits of
    # height - 1, 1 bit of alpha and 3 bits of version, least significant first.
    (header,) = struct.unpack("<I", data[21:25])
    if data[20] != 0x2F or header >> 29 != 0:
        return False
    return size is None or ((header & 0x3FFF) + 1, ((header >> 14) & 0x3FFF) + 1) == size


@cache
def _pillow() -> str:
    try:
        return metadata.version("pillow")
    except metadata.PackageNotFoundError:
        return "unknown"


@cache
def _entry_key(path: str) -> str:
    """The cache entry of an icon's WebP image: by its source's bytes, the encoder, the code."""
    return content_key("webp lossless", _METHOD, _pillow(), code_digest(), _source_digest(path))


class SiteIcons:
    """The bytes of a site's icon files, encoded once and kept in the cache folder."""

    def __init__(self) -> None:
        self.disk: SignedCache | None = None
        self.encoded: list[str] = []  # the icons this build had to encode (for the log)
        self._used: set[str] = set()
        self._memory: dict[str, bytes] = {}

    def files(self, icons: Mapping[str, str]) -> dict[str, bytes]:
        """The bytes of each icon file, by its name in the site (`site_icon_name`), of
        icons given as {site name: path of the source icon}."""
        self.encoded = []
        self._used = set()
        return {name: self._bytes(name, path) for name, path in sorted(icons.items())}

    def _bytes(self, name: str, path: str) -> bytes:
        source = _source(path)
        if not published_as_webp(path):
            return source
        key = _entry_key(path)
        self._used.add(key)
        if key in self._memory:
            return self._memory[key]
        data = self._stored(key, png_size(source))
        if data is None:
            data = encode_webp(source)
            self.encoded.append(name)
            if self.disk is not None:
                self.disk.put(key, {"webp": base64.b64encode(data).decode("ascii")})
        self._memory[key] = data
        return data

    def _stored(self, key: str, size: tuple[int, int] | None) -> bytes | None:
        if self.disk is None:
            return None
        entry = self.disk.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("webp"), str):
            return None
        try:
            data = base64.b64decode(entry["webp"], validate=True)
        except ValueError:
            return None
        return data if is_plain_lossless_webp(data, size) else None

    def prune(self) -> int:
        """Forget the icons this build did not use, and remove them from the cache folder."""
        self._memory = {k: v for k, v in self._memory.items() if k in self._used}
        return self.disk.prune(self._used) if self.disk is not None else 0
