"""What a change does to the threat models: a semantic diff between two revisions.

Models are read at BASE straight from git objects (no checkout) and at HEAD from
git objects too, or from the working tree when HEAD is not given.  The diff is
by element id, field by field, and names what a reviewer cares about first:
new open high or critical risks, boundary-crossing flows that lost
authentication or encryption, new ingress points, and models that the change
makes stale because it touches their architecture without touching them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import gitcmd
from .analysis.globs import matches_any
from .analysis.risk import RiskBands, is_open
from .analysis.rules import Rule
from .analysis.staleness import watched
from .analysis.suggest import Triage, suggestions
from .analysis.topology import Topology
from .gitcmd import RevisionError
from .loader import MODEL_SUFFIXES, load_models, load_text
from .model import COLLECTIONS, AuthMethod, Flow, ThreatModel
from .problems import Problem, display_path
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


def snapshot_at(start: Path, models_dir: Path, revision: str) -> Snapshot:
    """The models under `models_dir` as they are in `revision`, read from git objects."""
    root = repository_root(start)
    commit = gitcmd.resolve_commit(root, revision)
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
    for (_, path), data in zip(blobs, _read_blobs(root, [b[0] for b in blobs]), strict=True):
        display = f"{revision}:{path}"
        model, found, _ = load_text(data, display)
        problems.extend(found)
        if model is not None:
            models[model.id] = (model, path)
        else:
            invalid.add(path)
    return Snapshot(revision, models, tuple(problems), frozenset(invalid))


def _read_blobs(root: Path, object_ids: list[str]) -> list[bytes]:
    """The contents of blobs, in one `git cat-file --batch` run; over-large ones are cut
    one byte past the loader's limit (which then refuses them)."""
    if not object_ids:
        return []
    out = gitcmd.run(
        root, ["cat-file", "--batch"], stdin="".join(f"{o}\n" for o in object_ids).encode()
    )
    contents = []
    at = 0
    for _ in object_ids:
        header_end = out.index(b"\n", at)
        header = out[at:header_end].split(b" ")
        size = int(header[2]) if len(header) == 3 else 0
        start = header_end + 1
        contents.append(out[start : start + min(size, MAX_FILE_BYTES + 1)])
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


def changed_files(start: Path, base: str, head: str | None) -> list[str]:
    """Paths changed between `base` and `head` (or the working tree), any byte kept."""
    root = repository_root(start)
    revisions = [gitcmd.resolve_commit(root, r) for r in ([base, head] if head else [base])]
    names = gitcmd.split_z(
        gitcmd.run(root, ["diff", "--name-only", "-z", "--no-renames", *revisions, "--"])
    )
    if head is None:
        names += gitcmd.split_z(
            gitcmd.run(root, ["ls-files", "-z", "--others", "--exclude-standard"])
        )
    return sorted({name for name in names if name})


@dataclass(frozen=True)
class Change:
    """One element added, removed or changed."""

    action: str  # added, removed, changed
    kind: str  # boundary, component, flow, asset, threat, mitigation
    id: str
    title: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class RiskRise:
    """An open threat that is new, newly open, or riskier than before."""

    threat_id: str
    title: str
    risk: int
    band: str
    was: int | None  # the earlier open risk; None when it was not open before

    def __str__(self) -> str:
        before = f"was {self.was}" if self.was is not None else "new"
        return f"{self.threat_id} {self.title}: {self.risk} {self.band} ({before})"


@dataclass
class ModelDiff:
    model_id: str
    title: str
    status: str  # added, removed, renamed, changed, unchanged, invalid
    old_path: str | None = None
    new_path: str | None = None
    changes: list[Change] = field(default_factory=list)
    risk_rises: list[RiskRise] = field(default_factory=list)
    weakened: list[str] = field(default_factory=list)  # crossing flows that lost protection
    new_ingress: list[str] = field(default_factory=list)
    new_crossings: list[str] = field(default_factory=list)
    suggestions_added: list[str] = field(default_factory=list)
    suggestion_risks: dict[str, int] = field(default_factory=dict)  # added key -> default risk
    suggestions_removed: list[str] = field(default_factory=list)


@dataclass
class ReviewResult:
    base: str
    head: str
    models: list[ModelDiff]
    stale: dict[str, list[str]]  # model id -> files changed that it watches
    problems: tuple[Problem, ...] = ()
    headline_from: int = 10  # lowest risk that makes the headline (the high band)

    @property
    def changed(self) -> list[ModelDiff]:
        return [m for m in self.models if m.status != "unchanged"]


def _label(item: Any) -> str:
    return str(getattr(item, "title", None) or item.id)


def _value(value: Any) -> str:
    if hasattr(value, "value"):
        return str(value.value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value(v)}" for k, v in value.items()) + "}"
    if value is None:
        return "not set"
    return str(value)


def _fields(old: Any, new: Any) -> list[str]:
    before, after = old.model_dump(), new.model_dump()
    details = []
    for name in type(new).model_fields:
        if before.get(name) == after.get(name) or name == "id":
            continue
        if name == "description" or name == "note":
            details.append(f"{name} changed")
        else:
            details.append(f"{name}: {_value(getattr(old, name))} → {_value(getattr(new, name))}")
    return details


def _protection(flow: Flow) -> tuple[bool, bool]:
    """(authenticated, encrypted) as recorded."""
    auth = flow.authentication
    return (auth is not None and auth.method is not AuthMethod.NONE, flow.encrypted is True)


def diff_models(
    old: ThreatModel | None,
    new: ThreatModel | None,
    bands: RiskBands,
    rules: Sequence[Rule] = (),
) -> ModelDiff:
    model = new or old
    assert model is not None
    result = ModelDiff(model.id, model.title, "changed")
    if old is None or new is None:
        result.status = "added" if old is None else "removed"
    old_topology = Topology(old) if old else None
    new_topology = Topology(new) if new else None
    if old is not None and new is not None:
        # The model's own tags and attributes (its elements' are compared below).
        details = [
            f"{name}: {_value(getattr(old, name))} → {_value(getattr(new, name))}"
            for name in ("tags", "attributes")
            if getattr(old, name) != getattr(new, name)
        ]
        if details:
            result.changes.append(Change("changed", "model", new.id, new.title, tuple(details)))
    for collection, (noun, _) in COLLECTIONS.items():
        before = {item.id: item for item in getattr(old, collection, [])} if old else {}
        after = {item.id: item for item in getattr(new, collection, [])} if new else {}
        for item_id, item in after.items():
            if item_id not in before:
                result.changes.append(Change("added", noun, item_id, _label(item)))
            elif before[item_id] != item:
                details = _fields(before[item_id], item)
                result.changes.append(
                    Change("changed", noun, item_id, _label(item), tuple(details))
                )
        for item_id, item in before.items():
            if item_id not in after:
                result.changes.append(Change("removed", noun, item_id, _label(item)))
    if new is not None and new_topology is not None:
        old_threats = {t.id: t for t in old.threats} if old else {}
        for threat in new.threats:
            if not is_open(threat):
                continue
            earlier = old_threats.get(threat.id)
            was = earlier.risk if earlier is not None and is_open(earlier) else None
            if was is None or threat.risk > was:
                band = bands.band_of(threat).name
                result.risk_rises.append(RiskRise(threat.id, threat.title, threat.risk, band, was))
        old_flows = {f.id: f for f in old.flows} if old else {}
        for flow in new.flows:
            previous = old_flows.get(flow.id)
            crossing = new_topology.crosses_boundary(flow)
            if previous is not None and crossing:
                (had_auth, had_enc), (has_auth, has_enc) = _protection(previous), _protection(flow)
                lost = [
                    w
                    for w, h, n in (
                        ("authentication", had_auth, has_auth),
                        ("encryption", had_enc, has_enc),
                    )
                    if h and not n
                ]
                if lost:
                    result.weakened.append(f"{flow.id}: lost {' and '.join(lost)}")
            if new_topology.is_ingress(flow) and (
                previous is None or old_topology is None or not old_topology.is_ingress(previous)
            ):
                auth = flow.authentication.method.value if flow.authentication else "not recorded"
                result.new_ingress.append(
                    f"{flow.id}: {flow.source} → {flow.destination} (authentication: {auth})"
                )
            elif previous is None and crossing:
                result.new_crossings.append(
                    f"{flow.id}: {flow.source} → {flow.destination} crosses "
                    + ", ".join(new_topology.crossed(flow))
                )
    if rules:

        def pending(model: ThreatModel | None) -> dict[str, int]:
            if model is None:
                return {}
            found = suggestions(model, rules)
            return {s.key: s.rule.risk for s in found if s.triage is Triage.UNTRIAGED}

        before_keys, after_risks = set(pending(old)), pending(new)
        after_keys = set(after_risks)
        result.suggestions_added = sorted(after_keys - before_keys)
        result.suggestion_risks = {k: after_risks[k] for k in result.suggestions_added}
        result.suggestions_removed = sorted(before_keys - after_keys)
    if result.status == "changed" and not (
        result.changes or result.suggestions_added or result.suggestions_removed
    ):
        result.status = "unchanged"
    return result


def review(
    start: Path,
    models_dir: Path,
    base: str,
    head: str | None,
    bands: RiskBands,
    rules: Sequence[Rule] = (),
    root: Path | None = None,
) -> ReviewResult:
    """The semantic diff of the models between `base` and `head` (default: working tree)."""
    before = snapshot_at(start, models_dir, base)
    after = snapshot_at(start, models_dir, head) if head else snapshot_worktree(models_dir, root)
    diffs = []
    for model_id in sorted(set(before.models) | set(after.models)):
        old = before.models.get(model_id)
        new = after.models.get(model_id)
        diff = diff_models(old[0] if old else None, new[0] if new else None, bands, rules)
        diff.old_path = old[1] if old else None
        diff.new_path = new[1] if new else None
        if old and new and old[1] != new[1] and diff.status in ("changed", "unchanged"):
            diff.status = "renamed" if diff.status == "unchanged" else "changed"
        if old and not new and old[1] in after.invalid:
            diff.status = "invalid"  # the file is still there but does not load
            diff.changes = []
        diffs.append(diff)
    files = changed_files(start, base, head)
    stale: dict[str, list[str]] = {}
    for model_id, (model, path) in after.models.items():
        old_path = before.models.get(model_id, (None, None))[1]
        if path in files or (old_path is not None and old_path in files):
            continue  # the change updates the model itself
        touched = [f for f in files if matches_any(f, watched(model))]
        if touched:
            stale[model_id] = touched
    return ReviewResult(
        base, head or "working tree", diffs, stale, before.problems + after.problems
    )
