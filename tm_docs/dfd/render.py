"""Render diagrams once: content-hash cache on disk, Graphviz runs in parallel."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock

from .. import __version__
from .build import DrawnDiagram
from .graphviz import dot_identity, run_dot
from .svg import embed_images

# Bump when the rendering pipeline changes in a way the DOT source does not show.
PIPELINE_VERSION = "4"  # 3: spaces kept in labels


@dataclass
class RenderStats:
    """What the last `render_all` did: how many diagrams it laid out and reused."""

    drawn: int = 0
    cached: int = 0


@dataclass
class DiagramRenderer:
    """Turns DOT sources into self-contained SVG, reusing earlier results.

    A result is stored under a hash of everything that affects the picture:
    the DOT source (all the model content that is drawn), the tm-docs version
    and pipeline version, and the identity of the Graphviz executable.  The
    cache lives in `cache_dir` (kept across builds) and in memory (kept across
    `mkdocs serve` rebuilds).
    """

    cache_dir: Path | None = None
    workers: int = field(default_factory=lambda: os.cpu_count() or 2)
    stats: RenderStats = field(default_factory=RenderStats)
    _memory: dict[str, bytes] = field(default_factory=dict, repr=False)
    _lock: Lock = field(default_factory=Lock, repr=False)

    def key(self, drawn: DrawnDiagram) -> str:
        digest = hashlib.sha256()
        for part in (__version__, PIPELINE_VERSION, dot_identity(), drawn.source):
            digest.update(part.encode("utf-8"))
            digest.update(b"\0")
        return digest.hexdigest()

    def _cached(self, key: str) -> bytes | None:
        if key in self._memory:
            return self._memory[key]
        if self.cache_dir is not None:
            path = self.cache_dir / f"{key}.svg"
            try:
                data = path.read_bytes()
            except OSError:
                return None
            self._memory[key] = data
            return data
        return None

    def _store(self, key: str, data: bytes) -> None:
        with self._lock:
            self._memory[key] = data
        if self.cache_dir is None:
            return
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file and rename, so a crash never leaves half a file.
        fd, tmp = tempfile.mkstemp(dir=self.cache_dir, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, self.cache_dir / f"{key}.svg")

    def _render(self, key: str, drawn: DrawnDiagram) -> bytes:
        svg = run_dot(drawn.source, "svg").decode("utf-8")
        data = embed_images(svg, drawn.icons).encode("utf-8")
        self._store(key, data)
        return data

    def render_all(self, diagrams: Mapping[str, DrawnDiagram]) -> dict[str, bytes]:
        """SVG of each diagram by name; only those not cached are laid out, in parallel."""
        self.stats = RenderStats()
        results: dict[str, bytes] = {}
        todo: dict[str, tuple[str, DrawnDiagram]] = {}
        for name, drawn in diagrams.items():
            key = self.key(drawn)
            cached = self._cached(key)
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
                for name, future in futures.items():
                    results[name] = future.result()
            self.stats.drawn = len(todo)
        return results

    def render(self, drawn: DrawnDiagram) -> bytes:
        return self.render_all({"diagram": drawn})["diagram"]


def render_png(drawn: DrawnDiagram) -> bytes:
    """A PNG of the diagram (for the command line; not cached)."""
    return run_dot(drawn.source, "png")
