"""The models of a git revision, read straight from git objects (no checkout).

Used by the semantic diff: BASE and HEAD are read from the object store in one
`git ls-tree` and one `git cat-file --batch` each; the working tree is read from
disk with the same loader as everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..model import ThreatModel
from ..problems import Problem, display_path
from . import git as gitcmd
from .git import RevisionError
from .models import MODEL_SUFFIXES, load_models, load_text
from .yaml_source import MAX_FILE_BYTES


@dataclass(frozen=True)
class Snapshot:
    """The models of one revision, by id, with the file each came from."""

    label: str
    models: dict[str, tuple[ThreatModel, str]]
    problems: tuple[Problem, ...] = ()
    invalid: frozenset[str] = frozenset()  # paths of model files that did not load


def repository_root(start: Path) -> Path:
    root = gitcmd.toplevel(start)
    if root is None:
        raise RevisionError(f"{display_path(start)} is not inside a git repository")
    return root


def _folder_in(root: Path, models_dir: Path) -> str:
    try:
        return models_dir.resolve().relative_to(root).as_posix()
    except ValueError:
        raise RevisionError(f"{display_path(models_dir)} is outside the repository") from None


@dataclass(frozen=True)
class Change:
    """The two sides of a change, resolved once to commits of one repository."""

    root: Path
    base: str  # full commit hash
    head: str | None  # full commit hash, or None for the working tree


def resolve_change(start: Path, base: str, head: str | None) -> Change:
    """Find the repository of `start` and the commits `base` and `head` name, once, so
    every later read of the change sees the same commits even if a branch moves."""
    root = repository_root(start)
    return Change(
        root,
        gitcmd.resolve_commit(root, base),
        gitcmd.resolve_commit(root, head) if head else None,
    )


def snapshot_at(root: Path, models_dir: Path, commit: str, label: str) -> Snapshot:
    """The models under `models_dir` as they are in `commit` (a full hash), from git objects;
    `label` is the revision as the user named it."""
    folder = _folder_in(root, models_dir)
    listing = gitcmd.run(
        root,
        ["ls-tree", "-r", "-z", "--full-tree", commit, "--", *([folder] if folder != "." else [])],
    )
    blobs: list[tuple[str, str]] = []  # (object id, path)
    for entry in gitcmd.split_z(listing):
        if not entry:
            continue
        meta, _, path = entry.partition("\t")
        mode, kind, object_id = [*meta.split(" "), "", "", ""][:3]
        # Regular files only: a symbolic link (mode 120000) is refused as it is on disk.
        if kind != "blob" or mode not in ("100644", "100755"):
            continue
        if not path.endswith(MODEL_SUFFIXES):
            continue
        if any(part.startswith(".") for part in path.split("/")):
            continue
        blobs.append((object_id, path))
    models: dict[str, tuple[ThreatModel, str]] = {}
    problems: list[Problem] = []
    invalid: set[str] = set()
    for (_, path), data in zip(blobs, read_blobs(root, [b[0] for b in blobs]), strict=True):
        display = f"{label}:{path}"
        model, found, _ = load_text(data or b"", display)
        problems.extend(found)
        if model is not None:
            models[model.id] = (model, path)
        else:
            invalid.add(path)
    return Snapshot(label, models, tuple(problems), frozenset(invalid))


def read_blobs(root: Path, object_ids: list[str]) -> list[bytes | None]:
    """The contents of blobs, in one `git cat-file --batch` run; over-large ones are cut
    one byte past the loader's limit (which then refuses them).  None for an object the
    repository does not have (or that is no blob)."""
    if not object_ids:
        return []
    # --buffer: the ids are all written at once, so no reply need be flushed alone.
    out = gitcmd.run(
        root,
        ["cat-file", "--batch", "--buffer"],
        stdin="".join(f"{o}\n" for o in object_ids).encode(),
    )
    contents: list[bytes | None] = []
    at = 0
    for _ in object_ids:
        header_end = out.index(b"\n", at)
        header = out[at:header_end].split(b" ")
        start = header_end + 1
        if len(header) != 3:  # '<id> missing' (or ambiguous): no content follows
            contents.append(None)
            at = start
            continue
        size = int(header[2])
        contents.append(
            out[start : start + min(size, MAX_FILE_BYTES + 1)] if header[1] == b"blob" else None
        )
        at = start + size + 1  # the content is followed by a newline
    return contents


def snapshot_worktree(models_dir: Path, root: Path | None = None) -> Snapshot:
    result = load_models([models_dir], root=root)
    top = repository_root(models_dir)

    def relative(path: Path) -> str:
        try:
            return path.resolve().relative_to(top).as_posix()
        except ValueError:
            return path.as_posix()

    models = {m.model.id: (m.model, relative(m.path)) for m in result.models}
    valid = {relative(m.path) for m in result.models}
    invalid = {relative(p) for p in result.files} - valid
    return Snapshot("working tree", models, result.problems, frozenset(invalid))


def changed_files(change: Change) -> list[str]:
    """Paths changed between base and head (or the working tree), any byte kept."""
    root = change.root
    revisions = [change.base, change.head] if change.head else [change.base]
    names = gitcmd.split_z(
        gitcmd.run(root, ["diff", "--name-only", "-z", "--no-renames", *revisions, "--"])
    )
    if change.head is None:
        names += gitcmd.split_z(
            gitcmd.run(root, ["ls-files", "-z", "--others", "--exclude-standard"])
        )
    return sorted({name for name in names if name})
