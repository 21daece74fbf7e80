"""Running git: one place for its environment, its errors and what may reach it.

tm-docs reads history and revisions by running the `git` program with output
separated by NUL bytes and read as bytes, so that no file name, commit subject
or author (all of them shaped by pull requests) can be mistaken for structure.
Paths that are not UTF-8 survive as surrogate escapes (`os.fsdecode`), so a
file named with any byte still matches the `watch` globs that name it.

Revisions typed on the command line are checked before git sees them: no
option-like text, no control characters, and `--end-of-options` in front.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

TIMEOUT_SECONDS = 300
MAX_REVISION_CHARS = 256

# The environment of every git call: never prompt, never page, never take locks
# that a concurrent git would trip over, and messages in one language.  Output is
# buffered whole (into a pipe, git would flush after every commit of a log, and each
# small write wakes the reader: about half the CPU time of reading a long history).
ENVIRONMENT = {
    "GIT_FLUSH": "0",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_PAGER": "cat",
    "LC_ALL": "C",
    "LANGUAGE": "C",
}

_REVISION = re.compile(r"^[A-Za-z0-9_./@{}~^:+-]+$")


class GitError(Exception):
    """git is missing or failed; the message says what happened, on one line."""


class RevisionError(GitError):
    """A revision cannot be used; the message says why."""


def _environment() -> dict[str, str]:
    return {**os.environ, **ENVIRONMENT}


def git_program() -> str:
    found = shutil.which("git")
    if found is None:
        raise GitError("git is not installed (or not on PATH); install git")
    return found


class Running:
    """A git command started by `start`; `output()` waits for it and returns its output."""

    def __init__(self, proc: subprocess.Popen[bytes], stdin: bytes | None) -> None:
        self._proc = proc
        self._stdin = stdin

    def output(self) -> bytes:
        """Its standard output as bytes; GitError when it failed or took too long."""
        try:
            out, err = self._proc.communicate(self._stdin, timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.abandon()
            raise GitError(f"git took longer than {TIMEOUT_SECONDS} s") from None
        if self._proc.returncode != 0:
            message = os.fsdecode(err).strip().splitlines()
            raise GitError(
                message[-1] if message else f"git exited with status {self._proc.returncode}"
            )
        return out

    def abandon(self) -> None:
        """Stop it (when its output is no longer wanted) and wait for it to end."""
        self._proc.kill()
        self._proc.communicate()


def start(root: Path, args: Sequence[str], *, stdin: bytes | None = None) -> Running:
    """Start `git -C root ARGS` without waiting for it (to run beside other work)."""
    command = [git_program(), "-C", str(root), "-c", "core.quotePath=false", *args]
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.PIPE if stdin is not None else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_environment(),
        )
    except OSError as exc:
        raise GitError(f"git could not be run ({exc.strerror or exc})") from None
    return Running(proc, stdin)


def run(root: Path, args: Sequence[str], *, stdin: bytes | None = None) -> bytes:
    """Run `git -C root ARGS` and return its standard output as bytes."""
    return start(root, args, stdin=stdin).output()


def toplevel(start: Path) -> Path | None:
    """The work tree root of the repository that contains `start` (None if there is none)."""
    folder = start if start.is_dir() else start.parent
    try:
        out = run(folder, ["rev-parse", "--show-toplevel"])
    except GitError:
        return None
    return Path(os.fsdecode(out.rstrip(b"\n"))).resolve()


def prefix_in_repository(start: Path) -> str:
    """Where `start` lies in its git work tree, as 'sub/dir/' ('' at the top or outside git).

    Code scanning resolves paths from the repository's root; a command run in a
    subfolder puts this in front of the paths it reports.
    """
    try:
        out = run(start, ["rev-parse", "--show-prefix"])
    except GitError:
        return ""
    return os.fsdecode(out.rstrip(b"\n"))


def check_revision(revision: str) -> str:
    """The revision text if git may see it; RevisionError (with a clear message) if not."""
    if not revision or len(revision) > MAX_REVISION_CHARS:
        raise RevisionError(
            f"a revision is 1 to {MAX_REVISION_CHARS} characters (a branch, tag or commit hash)"
        )
    if revision.startswith("-"):
        raise RevisionError(
            f"'{_shown(revision)}' looks like an option, not a revision; name a branch, tag or "
            "commit"
        )
    if not _REVISION.match(revision):
        raise RevisionError(
            f"'{_shown(revision)}' is not a revision: use a branch, a tag, a commit hash or "
            "expressions such as HEAD~1 and origin/main"
        )
    return revision


def resolve_commit(root: Path, revision: str) -> str:
    """The full hash of the commit `revision` names in the repository at `root`."""
    check_revision(revision)
    try:
        out = run(
            root, ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"]
        )
    except GitError:
        raise RevisionError(
            f"'{revision}' is not a commit of this repository (fetch it, or check the name)"
        ) from None
    sha = out.decode("ascii", "replace").strip()
    if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", sha):
        raise RevisionError(f"'{revision}' is not a commit of this repository")
    return sha


def _shown(text: str) -> str:
    shown = text[:60] + ("..." if len(text) > 60 else "")
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in shown)


def split_z(output: bytes) -> list[str]:
    """NUL-separated git output as text, every byte kept (surrogate escapes).

    Decoded in one piece: a NUL byte never belongs to a longer UTF-8 sequence, so
    this gives the same parts as decoding each part alone, in one call."""
    return os.fsdecode(output).split("\0")


def head_files(start: Path) -> list[Path]:
    """The files git changes when HEAD moves (a commit, a checkout), to watch while serving."""
    try:
        out = run(start, ["rev-parse", "--absolute-git-dir"])
    except GitError:
        return []
    folder = Path(os.fsdecode(out.strip()))
    candidates = [folder / "HEAD", folder / "refs" / "heads", folder / "packed-refs"]
    return [p for p in candidates if p.exists()]
