"""Private source files behind the generated files of a `--dirty` MkDocs build.

`mkdocs build --dirty` and `mkdocs serve --dirty` rebuild only the pages whose source file
is newer than the page already in the site folder.  A file that lives only in memory counts
as always modified, so without help every generated page would be rebuilt each time.  This
module gives each generated file a real source file in a private folder of the process
(outside the docs folder, never watched, removed at exit) and decides its time stamp:

- *unchanged*: the file's bytes are the very bytes the page in the site folder was built
  from.  The source gets the oldest possible time stamp, so MkDocs keeps the page.
- *changed* (or not known): anything else.  The source gets a time stamp later than the
  page in the site folder, so MkDocs rebuilds it.

"The page was built from these bytes" is known from a manifest in the site folder, written
after each dirty build: per generated file, the digest of its bytes and the time stamp of
the page it produced.  A page whose time stamp differs from the manifest's (a clean build,
a failed build, another tool) is not trusted and is rebuilt, so a dirty build never keeps a
stale page.  Pages of files no longer generated (a deleted model) are removed from the site
folder, when the manifest says this module's build wrote them and nothing rewrote them since.

A `mkdocs build` without `--dirty` uses the same private folder for another reason: a file
given to MkDocs as text in memory stays in memory (MkDocs' `File` keeps it, beside the page's
own copy of its Markdown) until the build ends, while a file on disk is read when needed, as
the files of a hand-written site are.  `backing` writes such a file, without time stamps; such
a build also removes a manifest a dirty build left behind (the site folder then holds exactly
what a clean build writes).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..load.files import Refused, TooLarge, read_regular

MANIFEST = ".tm-docs-dirty.json"  # in the site folder, beside the pages it describes
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_OLDEST = 0  # the time stamp (ns) of an unchanged source: older than any page
_SECOND = 1_000_000_000  # coarse file systems keep time stamps in whole seconds
_PREFIX = "tm-docs-sources-"  # then the process id: the folder of a process that is gone


@dataclass(frozen=True)
class Built:
    """What the manifest remembers of one generated file's page."""

    digest: str
    dest: str  # the page's path in the site folder, with '/' separators
    mtime_ns: int  # the page's time stamp right after the build that wrote it


def _safe(path: str) -> bool:
    """Whether a relative '/' path stays inside the folder it is joined to."""
    parts = path.split("/")
    if not path or path.startswith("/") or ".." in parts or "" in parts:
        return False
    return "\\" not in path and ":" not in path  # no Windows separator or drive


def _inside(path: Path, root: Path) -> bool:
    """Whether `path`, its links followed, lies inside `root` (a linked folder on the way
    may lead anywhere)."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):
        return False


def _mtime_ns(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns if path.is_file() else None
    except OSError:
        return None


def read_manifest(site_dir: Path) -> dict[str, Built]:
    """The manifest of the last dirty build into `site_dir`; empty when there is none or
    it cannot be read (every page is then rebuilt)."""
    try:
        raw = read_regular(site_dir / MANIFEST, MAX_MANIFEST_BYTES)
        if len(raw) > MAX_MANIFEST_BYTES:
            return {}
        data = json.loads(raw.decode("utf-8"))
    except (Refused, TooLarge, OSError, ValueError, RecursionError):
        return {}
    built: dict[str, Built] = {}
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return {}
    for path, entry in data["files"].items():
        if not isinstance(entry, dict):
            continue
        digest, dest, mtime = entry.get("digest"), entry.get("dest"), entry.get("mtime_ns")
        if isinstance(digest, str) and isinstance(dest, str) and isinstance(mtime, int):
            if _safe(dest):
                built[str(path)] = Built(digest, dest, mtime)
    return built


def remove_manifest(site_dir: Path) -> None:
    """After a build without `--dirty`: the site folder holds what a clean build writes."""
    try:
        (site_dir / MANIFEST).unlink()
    except (FileNotFoundError, NotADirectoryError):
        pass


class DirtySources:
    """The private source files of one process, kept across `mkdocs serve` rebuilds."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        # path -> the content its private file holds and the digest of its bytes: a page
        # kept by the build's memo is the very same object, and is not hashed again
        self._written: dict[str, tuple[str | bytes, str]] = {}
        self._site_dir = Path(".")
        self._before: dict[str, Built] = {}
        # path -> (digest, dest, the page's time stamp before this build when the page
        # is to be rebuilt, 0 when it did not exist, None when it is kept)
        self._now: dict[str, tuple[str, str, int | None]] = {}

    def _private(self) -> Path:
        if self._folder is None:
            _sweep()
            folder = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            self._folder = folder
        return self._folder

    def start(self, site_dir: Path) -> None:
        """Begin a dirty build into `site_dir`."""
        self._site_dir = site_dir
        self._before = read_manifest(site_dir)
        self._now = {}

    def source(self, path: str) -> Path | None:
        """The private file that will back the generated file `path` (None: keep it in
        memory, for a path that could leave the private folder)."""
        return self._private() / path if _safe(path) else None

    def backing(self, path: str, content: str | bytes, *, read_as_text: bool) -> Path | None:
        """Write the private file of `path` for a build without `--dirty`, or None (keep it
        in memory) when MkDocs would not read the same text back from it: a path that could
        leave the private folder, or, for a file MkDocs reads as text (`read_as_text`: a
        Markdown page), a text that reading changes (line ends are translated, a leading
        byte-order mark dropped). Other files are copied as bytes."""
        if not _safe(path):
            return None
        if isinstance(content, str):
            if read_as_text and ("\r" in content or content.startswith("\ufeff")):
                return None
            data = content.encode("utf-8")
        else:
            data = content
        private = self._private() / path
        private.parent.mkdir(parents=True, exist_ok=True)
        private.write_bytes(data)
        return private

    def write(self, path: str, content: str | bytes, dest: str) -> Path:
        """Write the private file of `path` (only when its bytes change) and give it the
        time stamp that makes MkDocs rebuild its page at `dest` exactly when needed."""
        written = self._written.get(path)
        if written is not None and written[0] is content:
            digest, changed = written[1], False
        else:
            digest = hashlib.sha256(_bytes(content)).hexdigest()
            changed = written is None or written[1] != digest
            self._written[path] = (content, digest)
        private = self._private() / path
        if changed or not private.is_file():
            private.parent.mkdir(parents=True, exist_ok=True)
            private.write_bytes(_bytes(content))
        page = self._site_dir / dest
        page_mtime = _mtime_ns(page)
        before = self._before.get(path)
        unchanged = (
            before is not None
            and before.digest == digest
            and before.dest == dest
            and page_mtime == before.mtime_ns
        )
        if unchanged:
            stamp = _OLDEST
        else:
            stamp = max(os.stat(private).st_mtime_ns, (page_mtime or 0) + _SECOND)
        os.utime(private, ns=(stamp, stamp))
        self._now[path] = (digest, dest, None if unchanged else (page_mtime or 0))
        return private

    def finish(self) -> None:
        """After the dirty build: remove the pages of files no longer generated and write
        the manifest for the next build."""
        kept = {dest for _, dest, _ in self._now.values()}
        self._written = {p: w for p, w in self._written.items() if p in self._now}
        for path, built in self._before.items():
            if path in self._now or built.dest in kept:
                continue
            page = self._site_dir / built.dest
            # Only a page this module's build wrote, and nothing rewrote since.
            inside = _inside(page, self._site_dir)
            if inside and not page.is_symlink() and _mtime_ns(page) == built.mtime_ns:
                page.unlink()
                _remove_empty_parents(page.parent, self._site_dir)
        files = {}
        for path, (digest, dest, old) in sorted(self._now.items()):
            mtime = _mtime_ns(self._site_dir / dest)
            # A page to be rebuilt that MkDocs did not write is not remembered: rebuilt next.
            if mtime is not None and mtime != old:
                files[path] = {"digest": digest, "dest": dest, "mtime_ns": mtime}
        manifest = self._site_dir / MANIFEST
        if self._site_dir.is_dir():
            temporary = manifest.with_name(MANIFEST + ".tmp")
            temporary.unlink(missing_ok=True)  # a link left there is removed, not followed
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            with os.fdopen(os.open(temporary, flags, 0o644), "w", encoding="utf-8") as out:
                out.write(json.dumps({"files": files}, indent=0))
            os.replace(temporary, manifest)


def _bytes(content: str | bytes) -> bytes:
    return content.encode("utf-8") if isinstance(content, str) else content


def _sweep() -> None:
    """Remove the private folders of this user's processes that ended without cleaning up
    (a server stopped with SIGTERM runs no exit handler)."""
    root = Path(tempfile.gettempdir())
    try:
        entries = list(root.glob(f"{_PREFIX}*-*"))
    except OSError:
        return
    for entry in entries:
        pid = entry.name[len(_PREFIX) :].split("-", 1)[0]
        try:
            if not pid.isdigit() or entry.is_symlink() or entry.stat().st_uid != os.getuid():
                continue
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue  # alive (or not ours to ask about)


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
