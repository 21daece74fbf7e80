"""Find model files, read them safely and turn them into validated models.

`load_models` never raises for bad input: every problem of every file comes
back in one sorted list, each with file, line and column.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pydantic
import yaml
from pydantic import ValidationError

from ..model import ThreatModel
from ..problems import Problem, display_path, sort_problems
from ..progress import Progress, no_progress
from .files import Found, Refused, TooLarge, check_folder, find_files, read_regular
from .integrity import integrity_problems
from .messages import describe_value, validation_problems
from .signed import SignedCache, code_digest, content_key
from .yaml_source import (
    MAX_FILE_BYTES,
    Document,
    SourceMap,
    decode_document,
    lazy_source,
    read_document,
)

MODEL_SUFFIXES = (".yaml", ".yml")
MAX_PROBLEMS_PER_FILE = 100
# The signed disk cache of validated models in the project's cache folder, and the
# limit of an entry (a model file is at most MAX_FILE_BYTES; its JSON is near that).
MODEL_CACHE = "models"
MAX_MODEL_ENTRY_BYTES = 8 * MAX_FILE_BYTES


@dataclass(frozen=True)
class LoadedModel:
    """A valid model, the file it came from and where in it each value stands."""

    model: ThreatModel
    path: Path
    display_path: str
    source: SourceMap | None = field(default=None, compare=False, repr=False)
    # A hash of the file's bytes: what everything derived from the model is keyed by.
    digest: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class LoadResult:
    models: tuple[LoadedModel, ...] = ()
    problems: tuple[Problem, ...] = field(default_factory=tuple)
    files: tuple[Path, ...] = ()

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


class ModelPathError(Exception):
    """A path given to the loader does not exist or holds no model files."""


def discover(paths: Iterable[Path], root: Path | None = None) -> Found:
    """Model files under the given files or folders, sorted, without duplicates.

    Files and folders whose names start with '.' are skipped.  Symbolic links are
    not followed and are reported, as are folders outside `root` (the project
    folder, when the paths come from its configuration); a given file is
    returned as it is, so that loading it says why it is refused.
    """
    found = Found()
    folders = []
    for path in paths:
        if not (path.exists() or path.is_symlink()):
            raise ModelPathError(f"{display_path(path)}: no such file or folder")
        problem = check_folder(path, root, "models folder" if path.is_dir() else "model file")
        if problem is not None:
            found.problems.append(problem)
        elif path.is_dir():
            folders.append(path)
        else:
            found.files.append(path)
    inside = find_files(folders, MODEL_SUFFIXES)
    found.problems.extend(inside.problems)
    found.files = sorted({*found.files, *inside.files})
    return found


def load_file(path: Path, display: str | None = None) -> tuple[ThreatModel | None, list[Problem]]:
    """Load one model file: the model if it is valid, and all problems found."""
    model, problems, _ = _load(path, display or display_path(path))
    return model, problems


def _load(path: Path, display: str) -> tuple[ThreatModel | None, list[Problem], SourceMap]:
    return validate_document(read_document(path, display), display)


def load_text(text: bytes, display: str) -> tuple[ThreatModel | None, list[Problem], SourceMap]:
    """Load a model from the bytes of a file (e.g. a blob at some git revision)."""
    return validate_document(decode_document(text, display), display)


def validate_document(
    document: Document, display: str
) -> tuple[ThreatModel | None, list[Problem], SourceMap]:
    """The model of a read YAML document when it has no error, and all problems found."""
    problems = list(document.problems)
    if document.data is None and problems:
        return None, problems, document.source
    if not isinstance(document.data, dict):
        problems.append(
            Problem(
                display,
                1,
                1,
                "a model file must be a YAML mapping (key: value lines) at the top level, "
                f"not {describe_value(document.data)}",
            )
        )
        return None, problems, document.source
    problems.extend(integrity_problems(document.data, document.source, display))
    try:
        model = ThreatModel.model_validate(document.data)
    except ValidationError as exc:
        problems.extend(validation_problems(exc, document.data, document.source, display))
        return None, _capped(problems, display), document.source
    if problems:
        return None, _capped(problems, display), document.source
    return model, problems, document.source


def _capped(problems: list[Problem], display: str) -> list[Problem]:
    """The first problems of a file, and one line saying how many more there are."""
    ordered = sort_problems(problems)
    if len(ordered) <= MAX_PROBLEMS_PER_FILE:
        return ordered
    last = ordered[MAX_PROBLEMS_PER_FILE - 1]
    more = len(ordered) - MAX_PROBLEMS_PER_FILE
    return [
        *ordered[:MAX_PROBLEMS_PER_FILE],
        # On the next line, so that sorting keeps it after the problems it counts.
        Problem(display, last.line + 1, 1, f"... and {more} more problems in this file"),
    ]


@dataclass
class LoadMemo:
    """Files loaded before, by name and content: a file whose bytes did not change is
    not parsed or validated again.  Kept in memory (`mkdocs serve` rebuilds) and, with
    `disk`, as signed entries of the project's cache folder (a new `mkdocs build`)."""

    _entries: dict[tuple[str, str], tuple[LoadedModel | None, list[Problem]]] = field(
        default_factory=dict
    )
    loaded: list[str] = field(default_factory=list)  # files parsed by the last load
    reused: int = 0
    from_disk: int = 0  # of `reused`, read from the signed disk cache
    # Set before each load by its caller (opened on every build), or None.
    disk: SignedCache | None = None
    used: set[str] = field(default_factory=set)  # disk entries the last load used
    _fresh: dict[tuple[str, str], tuple[LoadedModel | None, list[Problem]]] = field(
        default_factory=dict
    )

    def load(self, path: Path, display: str) -> tuple[LoadedModel | None, list[Problem]]:
        try:
            raw = read_regular(path, MAX_FILE_BYTES)
        except (TooLarge, Refused):
            model, problems, source = _load(path, display)  # says why, every time
            return (LoadedModel(model, path, display, source) if model else None), problems
        key = (str(path), hashlib.sha256(raw).hexdigest())
        entry = self._entries.get(key)
        if entry is not None:
            self.reused += 1
            self._fresh[key] = entry
            if self.disk is not None and entry[0] is not None:
                self.used.add(self.disk_key(path, display, key[1]))  # kept on disk too
            return entry[0], list(entry[1])
        entry = self._from_disk(path, display, raw, key[1])
        if entry is not None:
            self.reused += 1
            self.from_disk += 1
            self._fresh[key] = entry
            return entry[0], list(entry[1])
        model, problems, source = validate_document(decode_document(raw, display), display)
        loaded = LoadedModel(model, path, display, source, key[1]) if model else None
        self.loaded.append(display)
        self._fresh[key] = (loaded, problems)
        if loaded is not None:
            self._to_disk(loaded, problems)
        return loaded, list(problems)

    @staticmethod
    def disk_key(path: Path, display: str, digest: str) -> str:
        """What a validated model is made of: the file's bytes (by hash) and names, and
        the code that read and validated it (tm-docs', pydantic's and PyYAML's)."""
        return content_key(
            "validated model",
            digest,
            str(path),
            display,
            code_digest(),
            pydantic.VERSION,
            yaml.__version__,
            getattr(yaml, "__with_libyaml__", False),
        )

    def _from_disk(
        self, path: Path, display: str, raw: bytes, digest: str
    ) -> tuple[LoadedModel, list[Problem]] | None:
        """A validated model from a signed entry, or None (missing, or not one that
        this code wrote: computed afresh).  Only successful loads are stored, so a file
        with an error is always read again and says where."""
        if self.disk is None:
            return None
        entry = self.disk_key(path, display, digest)
        value = self.disk.get(entry)
        if not isinstance(value, dict):
            return None
        try:
            model = ThreatModel.model_validate_json(value["model"])
            problems = [Problem.from_row(item) for item in value["problems"]]
        except (ValidationError, KeyError, TypeError, ValueError):
            return None
        self.used.add(entry)
        # Positions are read from the file's text when a message asks for one.
        source = lazy_source(raw.decode("utf-8-sig"), display)
        return LoadedModel(model, path, display, source, digest), problems

    def _to_disk(self, loaded: LoadedModel, problems: list[Problem]) -> None:
        if self.disk is None:
            return
        entry = self.disk_key(loaded.path, loaded.display_path, loaded.digest)
        value = {
            "model": loaded.model.model_dump_json(by_alias=True),
            "problems": [p.as_row() for p in problems],
        }
        self.disk.put(entry, value)
        self.used.add(entry)

    def start(self) -> None:
        self.loaded = []
        self.reused = 0
        self.from_disk = 0
        self.used = set()
        self._fresh = {}

    def finish(self) -> None:
        """Forget the files the last load did not see (removed or changed since), and
        remove their disk entries."""
        self._entries = self._fresh
        if self.disk is not None:
            self.disk.prune(self.used)


def load_models(
    paths: Sequence[Path],
    root: Path | None = None,
    memo: LoadMemo | None = None,
    progress: Progress = no_progress,
) -> LoadResult:
    """Load every model under `paths`; models with errors are left out of `models`.

    With `root`, the paths must lie inside it (they come from a configuration
    that a pull request can change).  With `memo`, files whose bytes are the same
    as in an earlier load are taken from it.
    """
    found = discover(paths, root)
    files = found.files
    models: list[LoadedModel] = []
    problems: list[Problem] = list(found.problems)
    seen: dict[str, LoadedModel] = {}
    memo = memo or LoadMemo()
    memo.start()
    for number, path in enumerate(files, 1):
        display = display_path(path)
        loaded_or_none, file_problems = memo.load(path, display)
        progress("loading models", number, len(files))
        problems.extend(file_problems)
        if loaded_or_none is None:
            continue
        loaded = loaded_or_none
        model, source = loaded.model, loaded.source or SourceMap()
        if model.id in seen:
            where = source.locate(("id",))
            problems.append(
                Problem(
                    display,
                    where.line,
                    where.column,
                    f"model id '{model.id}' is already used by {seen[model.id].display_path}; "
                    "model ids must be unique across the repository",
                )
            )
            continue
        seen[model.id] = loaded
        models.append(loaded)
    memo.finish()
    return LoadResult(tuple(models), tuple(sort_problems(problems)), tuple(files))
