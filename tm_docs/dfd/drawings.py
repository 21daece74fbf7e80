"""Each model's DOT source made once: kept by what draws it, in memory and on disk.

Drawing a model's graph with `diagrams` costs milliseconds a model, and a build
needs the DOT source of every model even when the SVG is cached, since the SVG
cache is keyed by the source.  So the drawing itself is kept, keyed by what it
is made of: the model file's bytes (by hash), the risk bands, the link base and
the code that draws (tm-docs', `diagrams`' and `graphviz`'s, and where the icons
are).  On disk it is a signed entry of the cache folder (`load/signed.py`): the
folder is untrusted, and a DOT source read from it goes to Graphviz.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata

import diagrams

from ..analysis.risk import RiskBands
from ..load.signed import SignedCache, code_digest, content_key
from ..model import ThreatModel
from .build import DrawnDiagram, draw

# The drawings' folder in the project's cache folder, and the limit of an entry.
DRAWING_CACHE = "dfd-drawn"
MAX_DRAWING_BYTES = 8 * 1024 * 1024


@cache
def _drawing_code() -> tuple[str, ...]:
    """What draws besides the model: the code (once per process) and the icons' folder
    (the DOT source names icon files by their path)."""
    versions = []
    for package in ("diagrams", "graphviz"):
        try:
            versions.append(f"{package} {metadata.version(package)}")
        except metadata.PackageNotFoundError:  # pragma: no cover - installed with tm-docs
            versions.append(f"{package} unknown")
    return (code_digest(), *versions, os.path.dirname(os.path.abspath(diagrams.__file__)))


@dataclass
class DrawingMemo:
    """The drawings of the last build, by content; `disk` is set by the caller before
    each build (opened on every build), or None."""

    disk: SignedCache | None = None
    drawn: list[str] = field(default_factory=list)  # model ids drawn afresh by the last build
    from_disk: int = 0
    _memory: dict[str, DrawnDiagram] = field(default_factory=dict, repr=False)
    _used: set[str] = field(default_factory=set, repr=False)

    @staticmethod
    def key(digest: str, bands: RiskBands, link_base: str) -> str:
        return content_key("drawing", digest, bands, link_base, *_drawing_code())

    def start(self) -> None:
        self.drawn = []
        self.from_disk = 0
        self._used = set()

    def drawing(
        self, model: ThreatModel, digest: str, bands: RiskBands, link_base: str
    ) -> DrawnDiagram:
        """The diagram of `model`, whose file's bytes hash to `digest` ("" when unknown:
        drawn, never kept)."""
        if not digest:
            self.drawn.append(model.id)
            return draw(model, bands, link_base=link_base)
        key = self.key(digest, bands, link_base)
        self._used.add(key)
        found = self._memory.get(key)
        if found is None and self.disk is not None:
            found = _drawing(self.disk.get(key))
            if found is not None:
                self.from_disk += 1
        if found is None:
            found = draw(model, bands, link_base=link_base)
            self.drawn.append(model.id)
            if self.disk is not None:
                self.disk.put(key, {"source": found.source, "icons": list(found.icons)})
        self._memory[key] = found
        return found

    def prune(self) -> None:
        """Forget the drawings the last build did not use, in memory and on disk."""
        self._memory = {k: v for k, v in self._memory.items() if k in self._used}
        if self.disk is not None:
            self.disk.prune(self._used)


def _drawing(value: object) -> DrawnDiagram | None:
    """The drawing a signed entry holds, or None when it is not one."""
    if not isinstance(value, dict):
        return None
    source, icons = value.get("source"), value.get("icons")
    if not isinstance(source, str) or not isinstance(icons, list):
        return None
    if not all(isinstance(icon, str) for icon in icons):
        return None
    return DrawnDiagram(source=source, icons=tuple(icons))
