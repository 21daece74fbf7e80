"""Git history, read once: which commits changed which files.

One `git log` pass over the repository gives every commit
with its changed paths and renames; everything else (when a model was last
reviewed, which commits touched its architecture since) is computed from that
in memory.  A shallow clone, a folder outside any repository or a machine
without git gives an `Unavailable` with one message that says what to do.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ..problems import display_path
from . import git as gitcmd
from .git import GitError

_MARK = "tm-docs-commit"  # starts each commit's fields in the log output


@dataclass(frozen=True)
class Commit:
    sha: str
    time: dt.datetime  # committer time, UTC
    author: str
    subject: str
    # path -> the path it had before this commit (differs only for renames)
    changes: dict[str, str] = field(default_factory=dict, compare=False)
    content_changed: frozenset[str] = frozenset()  # paths whose content changed
    # path -> the object id of its content after this commit, for regular files
    # (absent for a deleted file, a symbolic link or a submodule)
    blobs: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def short(self) -> str:
        return self.sha[:10]


@dataclass(frozen=True)
class Unavailable:
    """Why history could not be read: what is unknown then, and what to do about it."""

    cause: str  # e.g. "the repository is a shallow clone, so its history is incomplete"
    fix: str = ""  # e.g. "fetch the whole history (...)"

    def unknown(self, what: str) -> str:
        """The one wording of every fact that needs history: `what` is unknown, and the fix."""
        return f"{self.cause}, so {what} is unknown" + (f"; {self.fix}" if self.fix else "")

    @property
    def reason(self) -> str:
        return self.unknown("staleness")


@dataclass(frozen=True)
class Revision:
    """One commit that changed a file: the path it had then, and its content's object id
    (None when the commit deleted it, or made it something other than a regular file)."""

    commit: Commit
    path: str
    blob: str | None


@dataclass(frozen=True)
class History:
    """The commits reachable from HEAD, newest first, and the state of the work tree."""

    root: Path
    head: str
    commits: tuple[Commit, ...]
    dirty: frozenset[str] = frozenset()  # paths with uncommitted changes, relative to root

    @cached_property
    def by_sha(self) -> dict[str, Commit]:
        return {c.sha: c for c in self.commits}

    @cached_property
    def _index(self) -> dict[str, int]:
        return {c.sha: i for i, c in enumerate(self.commits)}

    def index_of(self, sha: str) -> int | None:
        """Position of a commit in the log (newest first, children before parents)."""
        return self._index.get(sha)

    def find(self, prefix: str) -> Commit | None:
        """The commit whose hash starts with `prefix` (a review marker's commit)."""
        if prefix in self.by_sha:
            return self.by_sha[prefix]
        matches = [c for c in self.commits if c.sha.startswith(prefix)]
        return matches[0] if len(matches) == 1 else None

    def relative(self, path: Path) -> str | None:
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None

    # Indexes over the commits, built once and shared by every model's question.

    @cached_property
    def _touches(self) -> dict[str, list[int]]:
        """Path -> indexes (newest first) of the commits that touched it."""
        index: dict[str, list[int]] = {}
        for i, commit in enumerate(self.commits):
            for path in {*commit.changes, *commit.changes.values()}:
                index.setdefault(path, []).append(i)
        return index

    @cached_property
    def paths(self) -> list[str]:
        """Every path the history touched, sorted (for prefix searches)."""
        return sorted(self._touches)

    @cached_property
    def _content(self) -> dict[str, list[int]]:
        index: dict[str, list[int]] = {}
        for i, commit in enumerate(self.commits):
            for path in commit.content_changed:
                index.setdefault(path, []).append(i)
        return index

    @cached_property
    def _renames(self) -> dict[str, list[tuple[int, str]]]:
        """New path -> (commit index, old path) of the renames that produced it."""
        index: dict[str, list[tuple[int, str]]] = {}
        for i, commit in enumerate(self.commits):
            for new, old in commit.changes.items():
                if old != new:
                    index.setdefault(new, []).append((i, old))
        return index

    def commits_touching(self, path: str) -> list[int]:
        return self._touches.get(path, [])

    def last_change(self, path: str) -> tuple[Commit | None, list[str]]:
        """The newest commit that changed the content of `path`, following renames back.

        Returns it (None if the file was never committed) and every name the file had.
        """
        names = [path]
        current, start = path, 0
        while True:
            content = next((i for i in self._content.get(current, []) if i >= start), None)
            rename = next((r for r in self._renames.get(current, []) if r[0] >= start), None)
            if rename is not None and (content is None or rename[0] < content):
                start, current = rename[0] + 1, rename[1]
                if current in names:  # renamed back and forth: stop following
                    return None, names
                names.append(current)
                continue
            return (self.commits[content] if content is not None else None), names

    def revisions(self, path: str) -> list[Revision]:
        """Every commit that changed the content of `path`, oldest first, following
        renames back (a rename that keeps the content is no revision of it)."""
        found: list[Revision] = []
        current, start = path, 0
        names = {path}
        while True:
            content = [i for i in self._content.get(current, []) if i >= start]
            rename = next((r for r in self._renames.get(current, []) if r[0] >= start), None)
            end = rename[0] if rename is not None else len(self.commits)
            for i in content:
                if i > end:
                    break
                commit = self.commits[i]
                found.append(Revision(commit, current, commit.blobs.get(current)))
            if rename is None or rename[1] in names:  # renamed back and forth: stop
                break
            start, current = rename[0] + 1, rename[1]
            names.add(current)
        found.reverse()
        return found


def read_history(start: Path, previous: History | None = None) -> History | Unavailable:
    """Read the history of the repository that contains `start`.

    With the `previous` result of the same repository and an unchanged HEAD, the
    commits are reused and only the state of the work tree is read again: that
    keeps `mkdocs serve` rebuilds cheap.
    """
    try:
        gitcmd.git_program()
    except GitError:
        return Unavailable("git is not installed", "install git")
    folder = start if start.is_dir() else start.parent
    if not folder.is_dir():
        return Unavailable(f"{display_path(start)} does not exist")
    try:
        # The work tree's root and whether the clone is shallow, in one call.
        found = gitcmd.run(folder, ["rev-parse", "--show-toplevel", "--is-shallow-repository"])
    except GitError:
        return Unavailable(
            f"{display_path(start)} is not inside a git repository",
            "build from a clone of the repository",
        )
    top, _, shallow = found.rstrip(b"\n").rpartition(b"\n")
    root = Path(os.fsdecode(top)).resolve()
    if shallow.strip() == b"true":
        return Unavailable(
            "the repository is a shallow clone, so its history is incomplete",
            "fetch the whole history (in GitHub Actions: actions/checkout with "
            "'fetch-depth: 0'; elsewhere: git fetch --unshallow)",
        )
    try:
        try:
            head = gitcmd.run(root, ["rev-parse", "--verify", "HEAD^{commit}"]).decode().strip()
        except GitError:
            return Unavailable("the repository has no commits yet")
        # The state of the work tree is read while the log runs (two processes at once).
        status = gitcmd.start(root, ["status", "--porcelain", "--untracked-files=all", "-z"])
        if previous is not None and previous.head == head and previous.root == root:
            return History(root, head, previous.commits, _dirty(status.output()))
        try:
            output = gitcmd.run(root, _log_arguments(head))
        except GitError:
            status.abandon()
            raise
        dirty = _dirty(status.output())
    except GitError as exc:
        return Unavailable(f"git failed ({exc})")
    try:
        commits = tuple(_parse_log(gitcmd.split_z(output)))
    except (ValueError, IndexError) as exc:
        return Unavailable(f"the git log could not be read ({exc})")
    return History(root, head, commits, dirty)


def _log_arguments(head: str) -> list[str]:
    """The one `git log` pass that history is read from."""
    return [
        "log",
        head,
        "-z",
        "--no-color",
        "--date-order",
        # A merge shows what it brought in: a branch's changes count from the
        # moment they land, whenever they were written.
        "--diff-merges=first-parent",
        "--find-renames",
        # Raw: each change with the object id of the new content, so that a
        # model's revisions can be read without asking git once per commit.
        "--raw",
        "--no-abbrev",
        f"--format={_MARK}%x00%H%x00%ct%x00%an%x00%s",
        "--",
    ]


# One change of `git log --raw`: ':old-mode new-mode old-id new-id status'.
_RAW = re.compile(r"^:[0-7]{6} ([0-7]{6}) [0-9a-f]{40,64} ([0-9a-f]{40,64}) ([ACDMRTUXB][0-9]*)$")
_NO_OBJECT = re.compile(r"^0+$")
_REGULAR_FILE = ("100644", "100755")


def _parse_log(tokens: list[str]) -> list[Commit]:
    """Commits from `git log -z --raw` output, split at its NUL bytes.

    Fields are NUL-separated and read by position, so no commit subject or
    file name (both come from pull requests) can be mistaken for structure.
    """
    commits = []
    i = 0
    while i < len(tokens):
        if tokens[i].strip("\n") != _MARK:
            i += 1
            continue
        sha, timestamp, author, subject = tokens[i + 1 : i + 5]
        i += 5
        changes: dict[str, str] = {}
        content: set[str] = set()
        blobs: dict[str, str] = {}
        while i < len(tokens):
            raw = _RAW.match(tokens[i].lstrip("\n"))
            if raw is None:
                break
            mode, blob, status = raw.groups()
            if status[0] in "RC":
                old, new = tokens[i + 1], tokens[i + 2]
                i += 3
                changes[new] = old
                if status != "R100":  # a rename that also changed the text
                    content.add(new)
                if status[0] == "R":
                    changes.setdefault(old, old)
            else:
                new = tokens[i + 1]
                i += 2
                changes[new] = new
                content.add(new)
            if mode in _REGULAR_FILE and not _NO_OBJECT.match(blob):
                blobs[new] = blob
        commits.append(
            Commit(
                sha=sha,
                time=dt.datetime.fromtimestamp(int(timestamp), tz=dt.timezone.utc),
                author=author,
                subject=subject,
                changes=changes,
                content_changed=frozenset(content),
                blobs=blobs,
            )
        )
    return commits


def _dirty(status: bytes) -> frozenset[str]:
    paths = set()
    entries = gitcmd.split_z(status)
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        paths.add(path)
        if "R" in code or "C" in code:
            index += 1  # the original name follows a rename
    return frozenset(paths)
