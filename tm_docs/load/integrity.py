"""Checks that span elements: unique ids, resolvable references, boundary nesting.

They run on the plain data, not on validated models, so that a file with a
type error in one threat still gets its broken references reported in the same
run.  Which field refers to which collection is read from the `RefTo` markers
of the model classes.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from ..model import (
    COLLECTIONS,
    DATE_OR_COMMIT_NEEDED,
    MARKDOWN_FIELDS,
    MAX_MARKDOWN_PER_MODEL,
    NEEDS_REASON,
    REASON_NEEDED,
    REFERRING,
    RefTo,
)
from ..problems import Problem, did_you_mean
from .yaml_source import DataPath, SourceMap

MAX_HINTED = 50


def _items(data: dict[str, Any], collection: str) -> Iterator[tuple[int, dict[str, Any]]]:
    items = data.get(collection)
    if isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield index, item


def _item_id(item: dict[str, Any]) -> str | None:
    value = item.get("id")
    return value if isinstance(value, str) and value else None


@functools.cache
def _references(cls: type[BaseModel]) -> dict[str, RefTo]:
    """The fields of a model class that refer to elements, with their markers (read once
    per class: every file, and every version of it in the trend, asks for them)."""
    return {
        name: marker
        for name, field in cls.model_fields.items()
        for marker in field.metadata
        if isinstance(marker, RefTo)
    }


def integrity_problems(data: Any, source: SourceMap, display: str) -> list[Problem]:
    if not isinstance(data, dict):
        return []

    def at(path: DataPath, message: str) -> Problem:
        position = source.locate(path)
        return Problem(display, position.line, position.column, message)

    problems: list[Problem] = []
    # id -> (collection, path of the item)
    ids: dict[str, tuple[str, DataPath]] = {}
    for collection, (noun, _) in COLLECTIONS.items():
        for index, item in _items(data, collection):
            item_id = _item_id(item)
            if item_id is None:
                continue
            if item_id in ids:
                other, other_path = ids[item_id]
                line = source.locate(other_path).line
                problems.append(
                    at(
                        (collection, index, "id"),
                        f"{noun} '{item_id}': the id is already used by the "
                        f"{COLLECTIONS[other][0]} at line {line}; ids must be unique "
                        "within a model",
                    )
                )
                continue
            ids[item_id] = (collection, (collection, index, "id"))

    for collection, (noun, cls) in {**COLLECTIONS, **REFERRING}.items():
        refs = _references(cls)
        for index, item in _items(data, collection):
            label = f"{noun} '{_item_id(item)}'" if _item_id(item) else f"{noun} #{index + 1}"
            for name, marker in refs.items():
                value = item.get(name)
                targets: list[tuple[DataPath, Any]]
                if isinstance(value, list):
                    targets = [((collection, index, name, i), v) for i, v in enumerate(value)]
                else:
                    targets = [((collection, index, name), value)]
                seen: set[str] = set()
                for path, target in targets:
                    if not isinstance(target, str) or not target:
                        continue  # a type problem, reported by validation
                    if target in seen:
                        problems.append(at(path, f"{label}: {name} lists '{target}' twice"))
                        continue
                    seen.add(target)
                    # "Did you mean" costs a comparison with every id: offer it
                    # for the first few broken references of a file only.
                    hint = len(problems) < MAX_HINTED
                    problem = _resolve(target, marker, ids, hint=hint)
                    if problem:
                        problems.append(at(path, f"{label}: {name} {problem}"))

    problems.extend(_boundary_cycles(data, at))
    problems.extend(_cross_field(data, at))
    problems.extend(_markdown_budget(data, at))
    return problems


def _markdown_budget(data: dict[str, Any], at: Any) -> list[Problem]:
    """One problem at the Markdown field where the model's total passes the budget."""
    total = 0
    for path, text in _markdown_fields(data, ()):
        total += len(text)
        if total > MAX_MARKDOWN_PER_MODEL:
            return [
                at(
                    path,
                    f"the model holds more than {MAX_MARKDOWN_PER_MODEL:,} characters of "
                    "Markdown (descriptions and notes); shorten them, link to longer "
                    "documents, or split the model",
                )
            ]
    return []


def _markdown_fields(value: Any, path: DataPath) -> Iterator[tuple[DataPath, str]]:
    """Markdown texts in document order (the YAML depth limit bounds the recursion)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in MARKDOWN_FIELDS and isinstance(item, str):
                yield (*path, key), item
            else:
                yield from _markdown_fields(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _markdown_fields(item, (*path, index))


def _cross_field(data: dict[str, Any], at: Any) -> list[Problem]:
    """The model's rules between fields, checked here too so they are reported in the
    same run as other mistakes of the element (the model's own validators only run
    once every field of it is valid).  Same text and place, so a problem found both
    ways is reported once."""
    problems = []
    for index, item in _items(data, "threats"):
        status = item.get("status")
        if isinstance(status, str) and status in NEEDS_REASON and not item.get("reason"):
            label = f"threat '{_item_id(item)}'" if _item_id(item) else f"threat #{index + 1}"
            problems.append(
                at(("threats", index), f"{label}: {REASON_NEEDED.format(status=status)}")
            )
    review = data.get("review")
    if isinstance(review, dict) and review.get("date") is None and review.get("commit") is None:
        problems.append(at(("review",), f"review: {DATE_OR_COMMIT_NEEDED}"))
    return problems


def _resolve(
    target: str, marker: RefTo, ids: dict[str, tuple[str, DataPath]], *, hint: bool
) -> str | None:
    nouns = [COLLECTIONS[c][0] for c in marker.collections]
    wanted = _a(nouns[0] if len(nouns) == 1 else ", ".join(nouns[:-1]) + " or " + nouns[-1])
    found = ids.get(target)
    if found is not None:
        if found[0] in marker.collections:
            return None
        return f"'{target}' is {_a(COLLECTIONS[found[0]][0])}, not {wanted}"
    if not hint:
        return f"'{target}' is not {wanted} of this model"
    candidates = [i for i, (c, _) in ids.items() if c in marker.collections]
    return f"'{target}' is not {wanted} of this model{did_you_mean(target, candidates)}"


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def _boundary_cycles(data: dict[str, Any], at: Any) -> list[Problem]:
    parents: dict[str, str] = {}
    paths: dict[str, DataPath] = {}
    for index, item in _items(data, "boundaries"):
        item_id, parent = _item_id(item), item.get("parent")
        if item_id and isinstance(parent, str):
            parents[item_id] = parent
            paths[item_id] = ("boundaries", index, "parent")
    problems = []
    reported: set[str] = set()
    for start in parents:
        chain = [start]
        current = parents.get(start)
        while current is not None and current not in chain:
            chain.append(current)
            current = parents.get(current)
        if current is None or current in reported:
            continue
        cycle = chain[chain.index(current) :]
        reported.update(cycle)
        first = min(cycle, key=lambda b: paths[b])
        loop = " -> ".join([*cycle[cycle.index(first) :], *cycle[: cycle.index(first)], first])
        problems.append(
            at(
                paths[first],
                f"boundary '{first}': parent boundaries form a cycle ({loop}); "
                "a boundary cannot be nested inside itself",
            )
        )
    return problems
