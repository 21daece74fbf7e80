"""Find model files, read them safely and turn them into validated models.

`load_models` never raises for bad input: every problem of every file comes
back in one sorted list, each with file, line and column.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from .integrity import integrity_problems
from .messages import describe_value, validation_problems
from .model import ThreatModel
from .problems import Problem, display_path, sort_problems
from .yaml_source import read_document

MODEL_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadedModel:
    """A valid model and the file it came from."""

    model: ThreatModel
    path: Path
    display_path: str


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


def discover(paths: Iterable[Path]) -> list[Path]:
    """Model files under the given files or folders, sorted, without duplicates."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(
                p
                for p in path.rglob("*")
                if p.suffix in MODEL_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.is_file():
            found.add(path)
        else:
            raise ModelPathError(f"{path}: no such file or folder")
    return sorted(found)


def load_file(path: Path, display: str | None = None) -> tuple[ThreatModel | None, list[Problem]]:
    """Load one model file: the model if it is valid, and all problems found."""
    display = display or display_path(path)
    document = read_document(path, display)
    problems = list(document.problems)
    if document.data is None and problems:
        return None, problems
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
        return None, problems
    problems.extend(integrity_problems(document.data, document.source, display))
    try:
        model = ThreatModel.model_validate(document.data)
    except ValidationError as exc:
        problems.extend(validation_problems(exc, document.data, document.source, display))
        return None, problems
    if problems:
        return None, problems
    return model, problems


def load_models(paths: Sequence[Path]) -> LoadResult:
    """Load every model under `paths`; models with errors are left out of `models`."""
    files = discover(paths)
    models: list[LoadedModel] = []
    problems: list[Problem] = []
    seen: dict[str, LoadedModel] = {}
    for path in files:
        display = display_path(path)
        model, file_problems = load_file(path, display)
        problems.extend(file_problems)
        if model is None:
            continue
        loaded = LoadedModel(model, path, display)
        if model.id in seen:
            problems.append(
                Problem(
                    display,
                    1,
                    1,
                    f"model id '{model.id}' is already used by {seen[model.id].display_path}; "
                    "model ids must be unique across the repository",
                )
            )
            continue
        seen[model.id] = loaded
        models.append(loaded)
    return LoadResult(tuple(models), tuple(sort_problems(problems)), tuple(files))
