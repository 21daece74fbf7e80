"""Render diagrams once: content-hash cache on disk, Graphviz runs in parallel.

`DiagramRenderer.start` hands each diagram to a `dot` process as soon as its DOT
source exists and returns at once; the caller goes on (analysis, history, pages)
while Graphviz lays the diagrams out in processes of their own, and collects the
SVGs with `Layouts.wait` where it needs them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock

from .. import __version__
from ..load.cache import CacheFolder, CacheRefused, open_cache
from ..load.signed import SignedCache, code_digest
from ..progress import Progress, no_progress
from .build import DrawnDiagram
from .graphviz import GraphvizError, dot_identity, run_dot
from .site_icons import site_icon_name
from .svg import embed_images
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


class LayoutFailed(GraphvizError):
    """Laying out one diagram failed: `name` says which (the caller's name for it)."""

    def __init__(self, name: str, error: GraphvizError) -> None:
        super().__init__(str(error))
        self.name = name


class Layouts:
    """Diagrams being laid out, started by `DiagramRenderer.start`.

    `wait` returns the SVG of every diagram by name, in the order they were given,
    once all are done; `close` stops what has not started yet and waits for what
    has (for a build that fails before it collects them).  Whatever finished is in
    the renderer's caches either way.
    """

    def __init__(self, renderer: DiagramRenderer, workers: int) -> None:
        self._renderer = renderer
        self._workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None
        # By name, in the order given: the cached SVG, or the layout under way.
        self._jobs: dict[str, bytes | Future[bytes]] = {}

    def _add(self, name: str, drawn: DrawnDiagram) -> None:
        renderer = self._renderer
        key = renderer.key(drawn)
        renderer._used.add(key)
        cached = renderer._cached(key, drawn)
        if cached is not None:
            self._jobs[name] = cached
            renderer.stats.cached += 1
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._workers)
        self._jobs[name] = self._pool.submit(renderer._render, key, drawn)
        renderer.stats.drawn += 1

    def wait(self, progress: Progress = no_progress) -> dict[str, bytes]:
        """Every diagram's SVG by name.  When layouts failed, `LayoutFailed` names the
        first in the given order that did (after all have ended, so it is always that
        one)."""
        running = [job for job in self._jobs.values() if isinstance(job, Future)]
        try:
            for done, _ in enumerate(as_completed(running), 1):
                progress("drawing diagrams", done, len(running))
        finally:
            self.close()
        results = {}
        for name, job in self._jobs.items():
            if isinstance(job, Future):
                error = job.exception()
                if isinstance(error, GraphvizError):
                    raise LayoutFailed(name, error)
                if error is not None:
                    raise error
                job = job.result()
            results[name] = job
        return results

    def close(self) -> None:
        """Cancel the layouts not started yet and wait for the running ones."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


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
        # The icons by the names a site gives them: a hash of each icon's bytes and the
        # format the site publishes it in (the files a site diagram refers to).
        names = sorted(site_icon_name(path) for path in drawn.icons)
        for part in (__version__, PIPELINE_VERSION, icons, dot_identity(), drawn.source, *names):
            digest.update(part.encode("utf-8"))
            digest.update(b"\0")
        return digest.hexdigest()

    def icon_hrefs(self, drawn: DrawnDiagram) -> frozenset[str]:
        """The icon files a diagram may refer to (none when its icons are embedded)."""
        if not self.site_icons:
            return frozenset()
        return frozenset(SITE_ICON_FOLDER + site_icon_name(path) for path in drawn.icons)

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
        href = (lambda path: SITE_ICON_FOLDER + site_icon_name(path)) if self.site_icons else None
        data = embed_images(svg, drawn.icons, href).encode("utf-8")
        try:
            check_svg(data, self.icon_hrefs(drawn))
        except UnsafeSvg as exc:
            raise GraphvizError(f"a drawn diagram failed the safety check: {exc}") from None
        self._store(key, data)
        return data

    def start(self, diagrams: Iterable[tuple[str, DrawnDiagram]]) -> Layouts:
        """Start laying out each diagram not cached, in parallel `dot` processes, and
        return at once.  `diagrams` (name, drawing) may be made as they are taken: each
        layout starts as soon as its drawing exists.  `stats` counts them at once;
        `prune` may follow the returned `Layouts.wait`."""
        self.stats = RenderStats()
        self._used = set()
        layouts = Layouts(self, self.workers)
        try:
            for name, drawn in diagrams:
                layouts._add(name, drawn)
        except BaseException:
            layouts.close()
            raise
        return layouts

    def render_all(
        self, diagrams: Mapping[str, DrawnDiagram], progress: Progress = no_progress
    ) -> dict[str, bytes]:
        """SVG of each diagram by name; only those not cached are laid out, in parallel."""
        return self.start(diagrams.items()).wait(progress)

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
