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
from collections.abc import Sequence
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
    parent: str = field(default="", compare=False)  # the first parent ('' for a root commit)
    # whether a file arrived in it (added, renamed or copied, as this log paired them)
    arrived: bool = field(default=False, compare=False)

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
    # The folder (relative to root) whose changes were read, or None for every path: every
    # commit is there either way, but a scoped history knows only the changes in its folder.
    scope: str | None = None

    def covers(self, path: str) -> bool:
        """Whether the changes of `path` were read."""
        return self.scope is None or path.startswith(self.scope + "/")

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
        """`path` relative to the root (None outside it); each path is resolved once, as
        the trend and the review points ask for every model's."""
        known = self._relative
        if path not in known:
            try:
                known[path] = self._resolved(path).relative_to(self.root).as_posix()
            except ValueError:
                known[path] = None
        return known[path]

    def _resolved(self, path: Path) -> Path:
        """`path.resolve()`, with the folder resolved once for all its files (model files
        share a few folders; a file that is itself a symbolic link is resolved whole)."""
        folders = self._folders
        if path.parent not in folders:
            folders[path.parent] = path.parent.resolve()
        try:
            whole = path.name in ("", "..") or path.is_symlink()
        except OSError:
            whole = True
        return path.resolve() if whole else folders[path.parent] / path.name

    @cached_property
    def _relative(self) -> dict[Path, str | None]:
        return {}

    @cached_property
    def _folders(self) -> dict[Path, Path]:
        return {}

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


def read_history(
    start: Path, previous: History | None = None, *, within: Path | None = None
) -> History | Unavailable:
    """Read the history of the repository that contains `start`.

    With the `previous` result of the same repository and an unchanged HEAD, the
    commits are reused and only the state of the work tree is read again: that
    keeps `mkdocs serve` rebuilds cheap.

    `within`: only the changes in this folder are needed (the versions of model files,
    for the risk trend alone).  Git then compares only that folder's part of each tree,
    which is most of the cost of the log.  Every commit is still read, so positions and
    review commits are the same; a file moved into the folder from outside it makes the
    whole history read, so that renames are followed as far back as ever.
    """
    try:
        gitcmd.git_program()
    except GitError:
        return Unavailable("git is not installed", "install git")
    folder = start if start.is_dir() else start.parent
    if not folder.is_dir():
        return Unavailable(f"{display_path(start)} does not exist")
    try:
        # The work tree's root, whether the clone is shallow and HEAD, in one call.
        found = gitcmd.run(folder, _REV_PARSE)
    except GitError:
        # Either no repository, or one without commits: ask again to tell which.
        try:
            found = gitcmd.run(folder, ["rev-parse", "--show-toplevel", "--is-shallow-repository"])
        except GitError:
            return Unavailable(
                f"{display_path(start)} is not inside a git repository",
                "build from a clone of the repository",
            )
        found += b"\n"  # no HEAD
    top, shallow, head_line = [*found.split(b"\n"), b"", b""][:3]
    root = Path(os.fsdecode(top)).resolve()
    if shallow.strip() == b"true":
        return Unavailable(
            "the repository is a shallow clone, so its history is incomplete",
            "fetch the whole history (in GitHub Actions: actions/checkout with "
            "'fetch-depth: 0'; elsewhere: git fetch --unshallow)",
        )
    head = head_line.decode().strip()
    if not head:
        return Unavailable("the repository has no commits yet")
    scope = _scope(root, within)
    try:
        if previous is not None and (previous.head, previous.root) == (head, root):
            if previous.scope is None or previous.scope == scope:
                dirty = _dirty(_status(root, previous.scope).output())
                return History(root, head, previous.commits, dirty, previous.scope)
        return _read(root, head, scope) or _read(root, head, None) or _unreadable
    except GitError as exc:
        return Unavailable(f"git failed ({exc})")
    except (ValueError, IndexError) as exc:
        return Unavailable(f"the git log could not be read ({exc})")


_unreadable = Unavailable("the git log could not be read")
_REV_PARSE = [
    *("rev-parse", "--show-toplevel", "--is-shallow-repository"),
    *("--verify", "-q", "HEAD^{commit}"),
]
_DIFF_TREE = [
    *("diff-tree", "--stdin", "-r", "-z"),  # each commit's changes after its id
    *("--find-renames", "--raw", "--no-abbrev"),
]


def _scope(root: Path, within: Path | None) -> str | None:
    """`within` as a folder relative to root, or None when the whole history is needed."""
    if within is None:
        return None
    try:
        relative = within.resolve().relative_to(root).as_posix()
    except (ValueError, OSError):
        return None
    return None if relative in ("", ".") else relative


def _status(root: Path, scope: str | None) -> gitcmd.Running:
    return gitcmd.start(
        root, ["status", "--porcelain", "--untracked-files=all", "-z", *_pathspec(scope)]
    )


def _pathspec(scope: str | None) -> list[str]:
    """The folder as a pathspec that git reads literally (a folder may be named '*')."""
    return ["--", f":(top,literal){scope}"] if scope else []


def _read(root: Path, head: str, scope: str | None) -> History | None:
    """The history as `read_history` gives it; None when a scoped read cannot stand for
    the whole (a file came into the folder by a rename from outside it)."""
    # The state of the work tree is read while the log runs (two processes at once).
    status = _status(root, scope)
    try:
        output = gitcmd.run(root, _log_arguments(head, scope))
    except GitError:
        status.abandon()
        raise
    dirty = _dirty(status.output())
    commits = tuple(_parse_log(gitcmd.split_z(output)))
    if scope is not None and _paired_otherwise(root, scope, commits):
        return None
    return History(root, head, commits, dirty, scope)


def _paired_otherwise(root: Path, scope: str, commits: Sequence[Commit]) -> bool:
    """Whether the whole tree's diff of a commit gives a file that arrived in `scope` an
    origin other than the folder's log did.

    A log of the folder alone pairs renames among the folder's files only: a file moved
    in from outside shows as new, and a file moved out beside a similar new one shows as
    renamed into it.  Both would follow the wrong versions back, so then the whole
    history is read.  (Commits too large for git's rename detection in the whole tree
    may still be paired in the folder's log: git's own limit, left as it is.)"""
    arrivals = {c.sha: c for c in commits if c.parent and c.arrived}
    if not arrivals:
        return False
    output = gitcmd.run(
        root,
        _DIFF_TREE,
        stdin="".join(f"{sha} {c.parent}\n" for sha, c in arrivals.items()).encode(),
    )
    tokens = gitcmd.split_z(output)
    prefix = scope + "/"
    commit: Commit | None = None
    i = 0
    while i < len(tokens):
        token = tokens[i].lstrip("\n")
        raw = _RAW.match(token)
        if raw is None:
            commit = arrivals.get(token)  # the header of the next commit's changes
            i += 1
            continue
        status = raw.group(3)
        if status[0] in "RC":
            origin, path = tokens[i + 1], tokens[i + 2]
            i += 3
        else:
            origin = path = tokens[i + 1]
            i += 2
        arrived = status[0] in "ARC"
        if commit is not None and arrived and path.startswith(prefix):
            if commit.changes.get(path, path) != origin:
                return True
    return False


def _log_arguments(head: str, scope: str | None = None) -> list[str]:
    """The one `git log` pass that history is read from (of `scope`'s changes only)."""
    # With a folder, git compares only that part of each tree; --full-history --sparse
    # keep every commit in the log, so the commits are the same as without it.
    limit = ["--full-history", "--sparse", *_pathspec(scope)] if scope else ["--"]
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
        f"--format={_MARK}%x00%H%x00%P%x00%ct%x00%an%x00%s",
        *limit,
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
        sha, parents, timestamp, author, subject = tokens[i + 1 : i + 6]
        i += 6
        arrived = False
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
                arrived = True
                if status != "R100":  # a rename that also changed the text
                    content.add(new)
                if status[0] == "R":
                    changes.setdefault(old, old)
            else:
                new = tokens[i + 1]
                i += 2
                changes[new] = new
                content.add(new)
                arrived = arrived or status == "A"
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
                parent=parents.partition(" ")[0],
                arrived=arrived,
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
