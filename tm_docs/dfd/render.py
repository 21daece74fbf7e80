"""Render diagrams once: content-hash cache on disk, Graphviz runs in parallel."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock

from .. import __version__
from ..load.cache import CacheFolder, CacheRefused, open_cache
from ..load.signed import SignedCache, code_digest
from ..progress import Progress, no_progress
from .build import DrawnDiagram
from .graphviz import GraphvizError, dot_identity, run_dot
from .svg import embed_images, icon_file_name
from .verify import UnsafeSvg, check_svg

# Where a site's diagrams find its icon files: a folder beside the models' folders.
SITE_ICON_FOLDER = "../icons/"

# Bump when the rendering pipeline changes in a way the DOT source does not show.
PIPELINE_VERSION = "4"  # 2: checked SVG without DOCTYPE; 3, 4: spaces kept in labels
# The diagrams' folder in the project's cache folder, and the limits of an entry.
CACHE_KIND = "dfd"
ENTRY_SUFFIX = ".svg"
MAX_DIAGRAM_BYTES = 32 * 1024 * 1024


def open_diagram_cache(root: Path, cache_dir: str) -> CacheFolder | CacheRefused:
    """The diagram cache of the project in `root`, or why it cannot be used."""
    return open_cache(root, cache_dir, CACHE_KIND, suffix=ENTRY_SUFFIX, max_bytes=MAX_DIAGRAM_BYTES)


@dataclass
class RenderStats:
    """What the last `render_all` did: how many diagrams it laid out and reused.

    `rejected` lists why cached diagrams failed the safety check (each was
    drawn again and counts as drawn).
    """

    drawn: int = 0
    cached: int = 0
    rejected: list[str] = field(default_factory=list)


@dataclass
class DiagramRenderer:
    """Turns DOT sources into self-contained SVG, reusing earlier results.

    A result is stored under a hash of everything that affects the picture:
    the DOT source (all the model content that is drawn), the tm-docs version
    and pipeline version, and the identity of the Graphviz executable.  The
    cache lives in `cache` (kept across builds) and in memory (kept across
    `mkdocs serve` rebuilds).  Every diagram, drawn or read from the disk
    cache, passes `check_svg` before it is used.

    With `site_icons`, a diagram refers to its icons as files of the site
    (`SITE_ICON_FOLDER`; `DrawnDiagram.icon_files` names them) instead of
    embedding them; otherwise each SVG stands alone.
    """

    cache: CacheFolder | None = None
    # Signed notes of the cached diagrams this user's builds have checked already (by
    # content hash), so that an unchanged entry is not checked again on every build.
    checked: SignedCache | None = None
    site_icons: bool = False
    workers: int = field(default_factory=lambda: os.cpu_count() or 2)
    stats: RenderStats = field(default_factory=RenderStats)
    _memory: dict[str, bytes] = field(default_factory=dict, repr=False)
    _used: set[str] = field(default_factory=set, repr=False)
    _lock: Lock = field(default_factory=Lock, repr=False)

    def key(self, drawn: DrawnDiagram) -> str:
        digest = hashlib.sha256()
        icons = "site icons" if self.site_icons else "embedded icons"
        for part in (__version__, PIPELINE_VERSION, icons, dot_identity(), drawn.source):
            digest.update(part.encode("utf-8"))
            digest.update(b"\0")
        return digest.hexdigest()

    def icon_hrefs(self, drawn: DrawnDiagram) -> frozenset[str]:
        """The icon files a diagram may refer to (none when its icons are embedded)."""
        if not self.site_icons:
            return frozenset()
        return frozenset(SITE_ICON_FOLDER + icon_file_name(path) for path in drawn.icons)

    def _cached(self, key: str, drawn: DrawnDiagram) -> bytes | None:
        if key in self._memory:
            return self._memory[key]  # only checked diagrams are kept in memory
        if self.cache is None:
            return None
        data = self.cache.get(key)
        if data is None:
            return None
        note = self._note(data)
        if self.checked is None or self.checked.get(key) != note:
            try:
                check_svg(data, self.icon_hrefs(drawn))
            except UnsafeSvg as exc:
                # Drawn again below, and the bad entry overwritten.
                self.stats.rejected.append(f"{key[:12]}{ENTRY_SUFFIX}: {exc}")
                return None
            if self.checked is not None:
                self.checked.put(key, note)
        self._memory[key] = data
        return data

    @staticmethod
    def _note(data: bytes) -> dict[str, str]:
        """What the signed note of a checked diagram says: the hash of its bytes, and of
        the code that checked them (a stricter check in a new checkout checks again)."""
        return {"sha256": hashlib.sha256(data).hexdigest(), "checker": code_digest()}

    def _store(self, key: str, data: bytes) -> None:
        with self._lock:
            self._memory[key] = data
        if self.cache is not None and self.cache.put(key, data) and self.checked is not None:
            self.checked.put(key, self._note(data))

    def _render(self, key: str, drawn: DrawnDiagram) -> bytes:
        svg = run_dot(drawn.source, "svg").decode("utf-8")
        href = (lambda path: SITE_ICON_FOLDER + icon_file_name(path)) if self.site_icons else None
        data = embed_images(svg, drawn.icons, href).encode("utf-8")
        try:
            check_svg(data, self.icon_hrefs(drawn))
        except UnsafeSvg as exc:
            raise GraphvizError(f"a drawn diagram failed the safety check: {exc}") from None
        self._store(key, data)
        return data

    def render_all(
        self, diagrams: Mapping[str, DrawnDiagram], progress: Progress = no_progress
    ) -> dict[str, bytes]:
        """SVG of each diagram by name; only those not cached are laid out, in parallel."""
        self.stats = RenderStats()
        results: dict[str, bytes] = {}
        todo: dict[str, tuple[str, DrawnDiagram]] = {}
        self._used = set()
        for name, drawn in diagrams.items():
            key = self.key(drawn)
            self._used.add(key)
            cached = self._cached(key, drawn)
            if cached is not None:
                results[name] = cached
                self.stats.cached += 1
            else:
                todo[name] = (key, drawn)
        if len(todo) == 1:
            ((name, job),) = todo.items()
            results[name] = self._render(*job)
            self.stats.drawn = 1
        elif todo:
            with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(todo)))) as pool:
                futures = {name: pool.submit(self._render, *job) for name, job in todo.items()}
                for done, _ in enumerate(as_completed(futures.values()), 1):
                    progress("drawing diagrams", done, len(futures))
                # In the order of `diagrams`, whichever finished first.
                for name, future in futures.items():
                    results[name] = future.result()
            self.stats.drawn = len(todo)
        return results

    def prune(self) -> int:
        """Forget the diagrams the last `render_all` did not use; the disk entries removed."""
        self._memory = {k: v for k, v in self._memory.items() if k in self._used}
        if self.checked is not None:
            self.checked.prune(self._used)
        return self.cache.prune(self._used) if self.cache is not None else 0

    def render(self, drawn: DrawnDiagram) -> bytes:
        return self.render_all({"diagram": drawn})["diagram"]


def render_png(drawn: DrawnDiagram) -> bytes:
    """A PNG of the diagram (for the command line; not cached)."""
    return run_dot(drawn.source, "png")
