"""Reading files that a pull request may have shaped: regular files inside the project only.

A pull request can commit a symbolic link where a model, a rules folder or the
models folder should be, pointing anywhere on the machine that builds the site;
or a FIFO named like a model, which blocks whoever opens it.  So:

- nothing is read through a symbolic link (neither the file nor a folder on its way);
- only regular files are opened, without blocking and without following a link
  at the last moment (`O_NOFOLLOW | O_NONBLOCK`, then `fstat`);
- a folder that tm-docs was configured to read must lie inside the project root;
- a refused path gets one problem that names it and says why, and nothing of
  what it points at or contains is shown.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..problems import Problem, display_path

MAX_PATH_CHARS = 1024  # longer paths are refused before they reach the file system
MAX_FILES = 5_000  # files considered under one folder, so a crafted tree cannot take forever

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)


class Refused(Exception):
    """A path tm-docs will not read; the message says why, without its content."""


class TooLarge(Refused):
    """A regular file over the size limit, refused before reading; `size` is its length."""

    def __init__(self, size: int) -> None:
        super().__init__(f"the file is {size:,} bytes")
        self.size = size


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def refusal(path: Path, what: str = "file") -> str | None:
    """Why `path` may not be read as a regular file (None when it may)."""
    if len(str(path)) > MAX_PATH_CHARS:
        return f"the path is longer than {MAX_PATH_CHARS} characters"
    try:
        info = path.lstat()
    except OSError as exc:
        return f"cannot read the {what}: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return (
            f"the {what} is {_kind(info.st_mode)}; tm-docs reads only regular files "
            "in the repository"
        )
    return None


def read_regular(path: Path, limit: int) -> bytes:
    """At most `limit` + 1 bytes of a regular file, opened without following links.

    Raises `Refused` for anything else; the caller words the problem.
    """
    reason = refusal(path)
    if reason is not None:
        raise Refused(reason)
    try:
        fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _BINARY)
    except OSError as exc:
        raise Refused(f"cannot read the file: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # swapped between the look and the open
            raise Refused(f"the file is {_kind(info.st_mode)}; tm-docs reads only regular files")
        if info.st_size > limit:
            raise TooLarge(info.st_size)
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise Refused(f"cannot read the file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def link_on_the_way(path: Path, root: Path | None) -> Path | None:
    """The first symbolic link among `path` and its folders below `root` (or itself only)."""
    absolute = Path(os.path.abspath(path))
    if root is None:
        parts = [absolute]
    else:
        base = Path(os.path.abspath(root))
        try:
            relative = absolute.relative_to(base)
        except ValueError:
            return None  # outside the root: reported by `outside`
        parts = [base.joinpath(*relative.parts[: i + 1]) for i in range(len(relative.parts))]
    for part in parts:
        try:
            if part.is_symlink():
                return part
        except OSError:
            return None
    return None


def outside(path: Path, root: Path) -> bool:
    """Whether `path`, with every link resolved, lies outside `root`."""
    try:
        path.resolve().relative_to(root.resolve())
    except ValueError:
        return True
    return False


@dataclass
class Found:
    """Files found under folders, and the paths refused on the way."""

    files: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def check_folder(folder: Path, root: Path | None, what: str) -> Problem | None:
    """A problem when a configured folder may not be read: a link, or outside the root."""
    shown = display_path(folder)
    link = link_on_the_way(folder, root)
    if link is not None:
        where = "" if link == Path(os.path.abspath(folder)) else f" ({display_path(link)} is)"
        return Problem(
            shown,
            1,
            1,
            f"the {what} is reached through a symbolic link{where}; tm-docs reads only "
            "folders and files that are really in the repository: replace the link with the "
            "folder itself",
        )
    if root is not None and outside(folder, root):
        return Problem(
            shown,
            1,
            1,
            f"the {what} is outside the project folder; keep it in the repository "
            "(paths in mkdocs.yml are relative to it)",
        )
    return None


def find_files(
    folders: Iterable[Path], suffixes: tuple[str, ...], *, recursive: bool = True
) -> Found:
    """Regular files with one of `suffixes` under `folders`, sorted; links are refused.

    Names starting with '.' are skipped.  A linked folder or file with a matching
    name is reported (it is not followed); FIFOs and other special files with a
    matching name are reported too.
    """
    found = Found()
    seen: set[Path] = set()
    for top in folders:
        stack = [top]
        while stack:
            folder = stack.pop()
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as exc:
                found.problems.append(
                    Problem(display_path(folder), 1, 1, f"cannot list the folder: {exc.strerror}")
                )
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                path = Path(entry.path)
                try:
                    is_link = entry.is_symlink()
                    is_dir = not is_link and entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_link and (entry.name.endswith(suffixes) or _is_dir_behind(path)):
                    found.problems.append(
                        Problem(
                            display_path(path),
                            1,
                            1,
                            "a symbolic link; tm-docs reads only regular files and folders "
                            "that are really in the repository, and does not follow links",
                        )
                    )
                    continue
                if is_dir:
                    if recursive:
                        stack.append(path)
                    continue
                if not entry.name.endswith(suffixes) or path in seen:
                    continue
                if len(seen) >= MAX_FILES:
                    found.problems.append(
                        Problem(
                            display_path(top),
                            1,
                            1,
                            f"more than {MAX_FILES:,} files; tm-docs reads at most that many",
                        )
                    )
                    found.files.sort()
                    return found
                seen.add(path)
                found.files.append(path)
    found.files.sort()
    return found


def _is_dir_behind(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False
