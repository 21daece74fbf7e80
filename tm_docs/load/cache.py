"""A cache folder tm-docs owns: entries by key, written atomically, never through links.

The cache folder sits in the project, where a pull request can put files too.
So it is only used when it is plainly tm-docs' own: a real folder inside the
project (no symbolic link on the way, nothing outside), and nothing in it
tracked by git.  Otherwise `open_cache` says why, and the caller runs without
a disk cache.  Entries are read without following links, only from regular
files of a bounded size; whatever an entry holds, the caller still checks it
before use.  A folder tm-docs creates gets a `.gitignore` of `*`, so it is
never committed by accident.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from . import git as gitcmd
from .git import GitError

_KEY = re.compile(r"[0-9a-f]{16,128}")
_TEMPORARY_PREFIX = ".tmp-"
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO planted as an entry must not block the open
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


@dataclass(frozen=True)
class CacheRefused:
    """Why a cache folder is not used, and what to do about it."""

    folder: str
    reason: str
    remedy: str

    def __str__(self) -> str:
        return (
            f"the cache folder '{self.folder}' is not used ({self.reason}), so everything is "
            f"computed afresh on every build; {self.remedy}"
        )


class CacheFolder:
    """Entries of one kind (one suffix) in one folder of the cache, looked up by key.

    `top` is the cache folder the project names (e.g. `.tm-docs-cache`);
    `folder` is this kind's folder in it (e.g. `.tm-docs-cache/dfd`).
    """

    def __init__(self, top: Path, folder: Path, *, suffix: str, max_bytes: int) -> None:
        if top != folder and top not in folder.parents:
            raise ValueError(f"{folder} is not inside {top}")
        self.top = top
        self.folder = folder
        self.suffix = suffix
        self.max_bytes = max_bytes
        self._entry = re.compile(rf"(?:{_KEY.pattern}|{re.escape(_TEMPORARY_PREFIX)}\w+)")

    def path(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.folder / f"{key}{self.suffix}"

    def get(self, key: str) -> bytes | None:
        """The entry's bytes, or None when there is no usable entry (a miss)."""
        path = self.path(key)
        try:
            fd = os.open(path, _READ_FLAGS)
        except OSError:  # missing, a symbolic link (ELOOP), unreadable
            return None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size > self.max_bytes:
                return None
            chunks: list[bytes] = []
            size = 0
            while size <= self.max_bytes:
                chunk = os.read(fd, min(1 << 20, self.max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if size > self.max_bytes:
                return None  # grew while being read
            return b"".join(chunks)
        except OSError:
            return None
        finally:
            os.close(fd)

    def put(self, key: str, data: bytes) -> bool:
        """Store an entry; False when it could not be stored (the build goes on)."""
        target = self.path(key)
        if len(data) > self.max_bytes or not self._make_folders():
            return False
        try:
            fd, temporary = tempfile.mkstemp(
                dir=self.folder, prefix=_TEMPORARY_PREFIX, suffix=self.suffix
            )
        except OSError:
            return False
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            # A rename replaces whatever the entry was (a link, a FIFO) without
            # writing through it, and never leaves half a file behind.
            os.replace(temporary, target)
        except OSError:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            return False
        return True

    def prune(self, keep: Iterable[str]) -> int:
        """Remove the entries whose keys are not in `keep`; the number removed.

        Only names this class writes (a key or a temporary name, with the
        suffix) are touched, and never a folder.
        """
        kept = {f"{key}{self.suffix}" for key in keep}
        if not self._chain_is_plain():
            return 0
        removed = 0
        try:
            with os.scandir(self.folder) as entries:
                names = [
                    e.name
                    for e in entries
                    if e.name not in kept
                    and e.name.endswith(self.suffix)
                    and self._entry.fullmatch(e.name[: -len(self.suffix)])
                    and not e.is_dir(follow_symlinks=False)
                ]
        except OSError:
            return 0
        for name in names:
            try:
                os.unlink(self.folder / name)
                removed += 1
            except OSError:
                pass
        return removed

    def _chain_is_plain(self) -> bool:
        """True when the folders from `top` down exist and none is a link."""
        path = self.top
        for part in (None, *self.folder.relative_to(self.top).parts):
            if part is not None:
                path = path / part
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                return False
            if not stat.S_ISDIR(mode):
                return False
        return True

    def _make_folders(self) -> bool:
        """Create the folders as needed (a new top folder gets its `.gitignore`)."""
        if not self.top.exists():
            try:
                self.top.mkdir(parents=True)
            except FileExistsError:
                pass  # made by a build running beside this one
            except OSError:
                return False
            else:
                try:
                    (self.top / ".gitignore").write_text(
                        "# Made by tm-docs: a cache, never to be committed.\n*\n",
                        encoding="utf-8",
                    )
                except OSError:
                    return False
        path = self.top
        for part in self.folder.relative_to(self.top).parts:
            path = path / part
            try:
                os.mkdir(path)
            except FileExistsError:
                pass
            except OSError:
                return False
        return self._chain_is_plain()


def open_cache(
    root: Path, cache_dir: str, kind: str, *, suffix: str, max_bytes: int
) -> CacheFolder | CacheRefused:
    """The folder `kind` of the project's cache folder `cache_dir`, if it may be used.

    `root` is the project folder (the one holding mkdocs.yml) and `cache_dir`
    the cache folder relative to it, as the configuration names it.
    """
    root = root.resolve()
    top = Path(os.path.normpath(root / cache_dir))
    try:
        relative = top.relative_to(root)
    except ValueError:
        relative = None
    if relative is None or not relative.parts:
        return CacheRefused(
            cache_dir,
            "it is not a folder inside the project",
            "set the tm-docs 'cache_dir' option to a folder below mkdocs.yml "
            "(the default is .tm-docs-cache)",
        )
    shown = relative.as_posix()
    folder = top / kind
    relink = (
        "make it a plain folder, or remove it so that tm-docs creates it "
        "(and keep it out of git with .gitignore)"
    )
    path = root
    for part in folder.relative_to(root).parts:
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            break
        except OSError as exc:
            return CacheRefused(shown, f"'{path.relative_to(root).as_posix()}': {exc}", relink)
        name = path.relative_to(root).as_posix()
        if stat.S_ISLNK(mode):
            return CacheRefused(shown, f"'{name}' is a symbolic link", relink)
        if not stat.S_ISDIR(mode):
            return CacheRefused(shown, f"'{name}' is not a folder", relink)
    if top.exists() and not Path(os.path.realpath(top)).is_relative_to(root):
        return CacheRefused(shown, "it lies outside the project", relink)
    tracked = _tracked_files(root, shown)
    if tracked:
        return CacheRefused(
            shown,
            f"git tracks files in it, such as {tracked[0]!r}",
            f"remove them from git ('git rm -r --cached {shown}'), commit, "
            f"and add '{shown}/' to .gitignore",
        )
    return CacheFolder(top, folder, suffix=suffix, max_bytes=max_bytes)


def _tracked_files(root: Path, folder: str) -> list[str]:
    """Files under `folder` that git tracks; empty without git or outside a repository."""
    try:
        out = gitcmd.run(root, ["ls-files", "-z", "--", folder])
    except GitError:
        return []  # not a repository (or git cannot tell): nothing to check against
    return [name for name in gitcmd.split_z(out) if name]
