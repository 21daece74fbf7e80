"""Reading rule files: the packaged library and a repository's own rules folder.

Rule files are untrusted like models (a pull request can add or change them):
read with the same safe YAML reader, each rule checked on its own so one broken
rule does not hide the others, every problem located at its file and line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ValidationError

from ..analysis.rules import Rule, RuleSet
from ..problems import Problem, display_path, sort_problems
from .files import Refused, TooLarge, check_folder, find_files, read_regular
from .messages import validation_problems
from .yaml_source import MAX_FILE_BYTES, Document, decode_document, read_document

_RULE_LISTS: dict[str, tuple[str, type[BaseModel]]] = {"rules": ("rule", Rule)}


@dataclass(frozen=True)
class _Located:
    rule: Rule
    display: str
    line: int
    column: int


def _load_file(path: Path, display: str) -> tuple[list[_Located], list[Problem]]:
    """The valid rules of one file, and every problem of every rule in it."""
    return _rules_of(read_document(path, display), display)


@dataclass
class RuleMemo:
    """Rule files read before, by name and content: a file whose bytes did not change is
    not parsed or checked again (`mkdocs serve` rebuilds).  Kept in memory only."""

    _entries: dict[tuple[str, str, str], tuple[list[_Located], list[Problem]]] = field(
        default_factory=dict
    )
    _fresh: dict[tuple[str, str, str], tuple[list[_Located], list[Problem]]] = field(
        default_factory=dict
    )

    def load(self, path: Path, display: str) -> tuple[list[_Located], list[Problem]]:
        try:
            raw = read_regular(path, MAX_FILE_BYTES)
        except (TooLarge, Refused):
            return _load_file(path, display)  # says why, every time
        key = (str(path), display, hashlib.sha256(raw).hexdigest())
        entry = self._entries.get(key)
        if entry is None:
            entry = _rules_of(decode_document(raw, display), display)
        self._fresh[key] = entry
        return list(entry[0]), list(entry[1])

    def done(self) -> None:
        """Keep what this load read, forget the files that are gone or changed."""
        self._entries, self._fresh = self._fresh, {}


def _rules_of(document: Document, display: str) -> tuple[list[_Located], list[Problem]]:
    if document.data is None:
        return [], list(document.problems)
    problems = list(document.problems)
    data = document.data
    items = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(data, dict) or set(data) != {"rules"} or not isinstance(items, list):
        shape = "a rule file is a mapping with one key, 'rules', holding a list"
        return [], [*problems, Problem(display, 1, 1, shape)]
    rules = []
    # Each rule is checked on its own, so one broken rule does not hide the others.
    for index, item in enumerate(items):
        try:
            rule = Rule.model_validate(item)
        except ValidationError as exc:
            problems.extend(
                validation_problems(
                    exc,
                    data,
                    document.source,
                    display,
                    root=Rule,
                    lists=_RULE_LISTS,
                    prefix=("rules", index),
                )
            )
            continue
        if rule.condition_problems:
            # Reported, and left out: a rule whose conditions cannot be evaluated is never used.
            for name, message in rule.condition_problems:
                where = document.source.locate(("rules", index, "when", name), key=True)
                problems.append(
                    Problem(display, where.line, where.column, f"rule '{rule.id}': {message}")
                )
            continue
        at = document.source.locate(("rules", index, "id"))
        rules.append(_Located(rule, display, at.line, at.column))
    return rules, problems


def builtin_rule_files() -> list[Path]:
    folder = resources.files("tm_docs").joinpath("rules")
    return sorted(Path(str(folder)).glob("*.yaml"))


def load_rules(
    extra_folders: Sequence[Path] = (), root: Path | None = None, memo: RuleMemo | None = None
) -> RuleSet:
    """The packaged rules plus those of the given folders; problems name file and line.

    With `root`, the folders must lie inside it (they come from mkdocs.yml, which
    a pull request can change); links are not followed.
    """
    rules: list[Rule] = []
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    files = [(p, f"tm_docs/rules/{p.name}") for p in builtin_rule_files()]
    for folder in extra_folders:
        if not (folder.is_dir() or folder.is_symlink()):
            problems.append(Problem(display_path(folder), 1, 1, "the rules folder does not exist"))
            continue
        refused = check_folder(folder, root, "rules folder")
        if refused is not None:
            problems.append(refused)
            continue
        found = find_files([folder], (".yaml", ".yml"), recursive=False)
        problems.extend(found.problems)
        files += [(p, display_path(p)) for p in found.files]
    for path, display in files:
        loaded, file_problems = memo.load(path, display) if memo else _load_file(path, display)
        problems.extend(file_problems)
        for located in loaded:
            rule = located.rule
            if rule.id in seen:
                problems.append(
                    Problem(
                        located.display,
                        located.line,
                        located.column,
                        f"rule id '{rule.id}' is already defined in {seen[rule.id]}",
                    )
                )
                continue
            seen[rule.id] = located.display
            rules.append(rule)
    if memo is not None:
        memo.done()
    return RuleSet(tuple(rules), tuple(sort_problems(problems)))
