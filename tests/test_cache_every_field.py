"""Every field of the model format, changed, reaches every page that shows it.

The pages kept between builds (in memory for `mkdocs serve`, signed in the cache folder for a
new `mkdocs build`) are reused when the view data a page shows is the same.  Which view data a
site-wide page shows is written down by hand, so this test does what a user might: it changes
each kind of value the example models hold, one at a time (every key path of their YAML, with
list positions folded; in every model that has it), commits it, and checks that a rebuild of
a serving pipeline and a build in a new process equal a build that reuses nothing but checked
diagrams, byte for byte.  (Checked to fail when the controls page's view data is cut down to
the number of controls: a mitigation's new title then left the controls page as it was.)
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tm_docs.analysis.settings import Settings
from tm_docs.pipeline import BuildError, Pipeline, SiteBuild, load_checked

from .gitrepo import GitRepo

EXAMPLE = Path(__file__).resolve().parents[1]
SECTIONS = ("boundaries", "components", "flows", "assets", "threats", "mitigations")
Path_ = tuple[str | int, ...]


def _leaves(value: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def _pattern(path: Path_) -> str:
    return ".".join("*" if isinstance(part, int) else part for part in path)


def _get(data: Any, path: Path_) -> Any:
    for part in path:
        data = data[part]
    return data


def _set(data: Any, path: Path_, value: Any) -> None:
    _get(data, path[:-1])[path[-1]] = value


def _candidates(value: Any, path: Path_, model: dict[str, Any], seen: set[Any]) -> list[Any]:
    """Values to try in place of `value`, likeliest to keep the model valid first."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1 if value < 5 else value - 1]
    if isinstance(value, dt.date):
        return [value - dt.timedelta(days=3)]
    if not isinstance(value, str):
        return []
    for section in SECTIONS:  # a reference: another element of the same kind
        ids = [element["id"] for element in model.get(section, [])]
        if value in ids:
            return [other for other in ids if other != value]
    others = sorted((v for v in seen if isinstance(v, str) and v != value), key=str)
    return [*others, f"{value} (edited)"]


def _valid(settings: Settings) -> bool:
    try:
        return not load_checked(settings).problems
    except BuildError:
        return False


def _edits(settings: Settings) -> dict[str, list[tuple[Path, Path_]]]:
    """The key paths of the models' YAML, each with the first place it has in each file."""
    edits: dict[str, dict[Path, Path_]] = {}
    for file in sorted(settings.models_dir.glob("*.yaml")):
        for path, _ in _leaves(yaml.safe_load(file.read_text(encoding="utf-8"))):
            if path[-1] not in ("id", "format_version"):
                edits.setdefault(_pattern(path), {}).setdefault(file, path)
    return {pattern: list(places.items()) for pattern, places in edits.items()}


def _seen(settings: Settings) -> dict[str, set[Any]]:
    values: dict[str, set[Any]] = {}
    for file in settings.models_dir.glob("*.yaml"):
        for path, value in _leaves(yaml.safe_load(file.read_text(encoding="utf-8"))):
            values.setdefault(_pattern(path), set()).add(value)
    return values


def _same_files(build: SiteBuild, expected: SiteBuild, what: str) -> None:
    assert [f.path for f in build.files] == [f.path for f in expected.files], what
    wanted = {f.path: f.content for f in expected.files}
    differ = [f.path for f in build.files if f.content != wanted[f.path]]
    assert differ == [], f"{what}: reused pages differ from a fresh build"


GROUPS = {
    "model": ("", "review", "scope", "watch", "reviewers"),
    "boundaries and components": ("boundaries", "components"),
    "flows": ("flows",),
    "assets and mitigations": ("assets", "mitigations"),
    "threats": ("threats",),
    "triage": ("not_applicable", "dismissed"),
}


def _settings(root: Path, cache: str | None) -> Settings:
    return Settings(
        root=root,
        models_dir=root / "models",
        owner_pages_from=2,  # split site-wide pages, so owners' pages are checked too
        cache_dir=root / cache if cache else None,
    )


@pytest.mark.parametrize("group", GROUPS)
def test_every_kind_of_value_changed_reaches_every_page(tmp_path: Path, group: str) -> None:
    """Each change is committed (an uncommitted model is reviewed "now", which differs in
    every build and so would re-render the pages that show it anyway)."""
    repo = GitRepo(tmp_path / "repo")
    root = repo.root
    # The shop's three models hold every kind of value but the dismissed suggestions, which
    # only tm-docs' own model has (and which, at 1,300 lines, would double each build).
    models = None if group == "triage" else shutil.ignore_patterns("tm-docs.yaml")
    shutil.copytree(EXAMPLE / "models", root / "models", ignore=models)
    shutil.copytree(EXAMPLE / "example", root / "example")
    repo.commit("Example models and system", "2026-06-01T10:00:00Z")
    seen = _seen(_settings(root, None))
    serving = Pipeline(_settings(root, "serve-cache"))
    serving.build()
    Pipeline(_settings(root, "build-cache")).build()
    everything = _edits(_settings(root, None))
    assert len(everything) > 60  # the example models hold most of the format
    sections = GROUPS[group]
    edits = {
        pattern: places
        for pattern, places in everything.items()
        if (pattern.split(".")[0] if "." in pattern else "") in sections or pattern in sections
    }
    assert edits, group
    skipped = []
    for n, (pattern, places) in enumerate(edits.items()):
        originals = {file: file.read_text(encoding="utf-8") for file, _ in places}
        changed = []
        for file, path in places:
            data = yaml.safe_load(originals[file])
            value = _get(data, path)
            for candidate in _candidates(value, path, data, seen.get(pattern, set())):
                _set(data, path, candidate)
                file.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "utf-8")
                if _valid(_settings(root, None)):
                    changed.append(f"{file.stem}: {candidate!r}")
                    break
            else:
                file.write_text(originals[file], encoding="utf-8")
        if not changed:
            skipped.append(pattern)
            continue
        repo.commit(f"Change {pattern}", f"2026-06-02T10:{n:02d}:00Z")
        # Only checked diagrams are reused by the build to compare with.
        reference = root / "reference-cache"
        for kept in reference.glob("*") if reference.is_dir() else ():
            if kept.name != "dfd":
                shutil.rmtree(kept) if kept.is_dir() else kept.unlink()
        fresh = Pipeline(_settings(root, "reference-cache")).build()
        assert fresh.work.site_rendered, pattern
        what = f"{pattern} changed ({', '.join(changed)})"
        _same_files(serving.build(), fresh, f"serve rebuild after {what}")
        _same_files(
            Pipeline(_settings(root, "build-cache")).build(), fresh, f"new build after {what}"
        )
        repo.commit(
            f"Undo {pattern}",
            f"2026-06-02T11:{n:02d}:00Z",
            files={str(file.relative_to(root)): text for file, text in originals.items()},
        )
    # Nearly every kind of value could be changed into another valid one.
    assert len(skipped) <= 2, skipped
