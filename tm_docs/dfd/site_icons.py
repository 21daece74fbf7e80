"""The icon files of a site: each icon a diagram shows, stored once, as small as it can be.

The icons `diagrams` ships are PNG files that were never squeezed.  A site publishes
each one as a lossless WebP image instead: every visible pixel is the same (only the
colour of fully transparent pixels may differ, and no one sees it), in less than half
the bytes, and every current browser shows it.  Where Pillow cannot write WebP, or the
icon is not a PNG file, the icon's own file is published as it is.

Encoding costs some 10 ms an icon, so the images are kept in the project's cache folder,
signed like its other entries, and a warm build does not even import Pillow.

`tm-docs dfd` writes a diagram that stands alone: it embeds the PNG files themselves
(see `svg.embed_images`), because programs other than browsers that read SVG, such as
converters to PDF, do not all read WebP.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import struct
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from pathlib import Path

from ..load.signed import SignedCache, content_key

ICON_CACHE = "icons"  # the kind of entry in the cache folder
MAX_ICON_ENTRY_BYTES = 2 * 1024 * 1024
# libwebp's effort for lossless images (0-6): 2 is within 1-3 % of the smallest
# file at a fiftieth of the time of 6.
_METHOD = 2
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SOURCE_SUFFIXES = {".png": ".png", ".jpg": ".jpg", ".jpeg": ".jpg"}


@cache
def can_write_webp() -> bool:
    """Whether the installed Pillow has its WebP codec (found without importing Pillow)."""
    try:
        return importlib.util.find_spec("PIL._webp") is not None
    except (ImportError, ValueError):
        return False


@cache
def _source(path: str) -> bytes:
    return Path(path).read_bytes()


def _is_png(path: str) -> bool:
    return _source(path)[:8] == _PNG_MAGIC


@cache
def site_icon_name(path: str) -> str:
    """The name of an icon's file in a site: a hash of the source icon's bytes, so equal
    icons share a file, and the suffix of the format the site publishes it in."""
    stem = hashlib.sha256(_source(path)).hexdigest()[:16]
    if can_write_webp() and _is_png(path):
        return stem + ".webp"
    return stem + _SOURCE_SUFFIXES.get(Path(path).suffix.lower(), ".png")


def site_icon_format() -> str:
    """What a site's icon files are, for the keys of cached diagrams that name them."""
    return "webp" if can_write_webp() else "source"


def encode_webp(png: bytes) -> bytes:
    """A lossless WebP image of the same pixels as the PNG image `png`."""
    from PIL import Image  # only when an icon is not in the cache

    with Image.open(io.BytesIO(png)) as opened:
        image = opened if opened.mode in {"RGB", "RGBA"} else opened.convert("RGBA")
        out = io.BytesIO()
        # No metadata: a published icon carries pixels only.
        image.save(out, "WEBP", lossless=True, quality=100, method=_METHOD)
    return out.getvalue()


def is_plain_lossless_webp(data: bytes) -> bool:
    """Whether `data` is a WebP file of one lossless image and nothing else: its RIFF
    header, then a single VP8L chunk that fills the rest of the file."""
    if len(data) < 21 or data[:4] != b"RIFF" or data[8:16] != b"WEBPVP8L":
        return False
    (riff_size,) = struct.unpack("<I", data[4:8])
    (chunk_size,) = struct.unpack("<I", data[16:20])
    padded = chunk_size + (chunk_size & 1)
    return riff_size == len(data) - 8 and 20 + padded == len(data) and data[20] == 0x2F


class SiteIcons:
    """The bytes of a site's icon files, encoded once and kept in the cache folder."""

    def __init__(self) -> None:
        self.disk: SignedCache | None = None
        self.encoded: list[str] = []  # the icons this build had to encode (for the log)
        self._used: set[str] = set()
        self._memory: dict[str, bytes] = {}

    @staticmethod
    def _key(source: bytes) -> str:
        try:
            pillow = metadata.version("pillow")
        except metadata.PackageNotFoundError:
            pillow = "unknown"
        return content_key("webp lossless", _METHOD, pillow, hashlib.sha256(source).hexdigest())

    def files(self, icons: Mapping[str, str]) -> dict[str, bytes]:
        """The bytes of each icon file, by its name in the site (`site_icon_name`), of
        icons given as {site name: path of the source icon}."""
        self.encoded = []
        self._used = set()
        return {name: self._bytes(name, path) for name, path in sorted(icons.items())}

    def _bytes(self, name: str, path: str) -> bytes:
        source = _source(path)
        if not name.endswith(".webp"):
            return source
        key = self._key(source)
        self._used.add(key)
        if key in self._memory:
            return self._memory[key]
        data = self._stored(key)
        if data is None:
            data = encode_webp(source)
            self.encoded.append(name)
            if self.disk is not None:
                self.disk.put(key, {"webp": base64.b64encode(data).decode("ascii")})
        self._memory[key] = data
        return data

    def _stored(self, key: str) -> bytes | None:
        if self.disk is None:
            return None
        entry = self.disk.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("webp"), str):
            return None
        try:
            data = base64.b64decode(entry["webp"], validate=True)
        except ValueError:
            return None
        return data if is_plain_lossless_webp(data) else None

    def prune(self) -> int:
        """Remove the cache folder's icons that this build did not use."""
        return self.disk.prune(self._used) if self.disk is not None else 0
