"""Turn pydantic validation errors into problems people can act on.

pydantic knows *what* failed and *where* in the data; the source map knows where
that is in the file; this module phrases it for the author of the model and
adds the hint that gets them unstuck.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from ..model import COLLECTIONS, PATTERN_HELP, REFERRING, ThreatModel
from ..problems import Problem, did_you_mean
from .yaml_source import DataPath, SourceMap


def describe_value(value: Any) -> str:
    """What kind of YAML value this is, as an author would call it."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the text '{value}'" if len(value) <= 40 and "\n" not in value else "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


Lists = dict[str, tuple[str, type[BaseModel]]]
MODEL_LISTS: Lists = {**COLLECTIONS, **REFERRING}


def element_label(data: Any, path: DataPath, lists: Lists = MODEL_LISTS) -> tuple[str, DataPath]:
    """("flow 'f3'", rest-of-path) for a path inside a collection item."""
    if len(path) >= 2 and path[0] in lists and isinstance(path[1], int):
        noun = lists[str(path[0])][0]
        item = _get(data, path[:2])
        item_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(item_id, str) and item_id:
            return f"{noun} '{item_id}'", path[2:]
        return f"{noun} #{path[1] + 1}", path[2:]
    return "", path


def _get(data: Any, path: DataPath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _dotted(path: DataPath) -> str:
    return ".".join(str(p) for p in path if not isinstance(p, int))


def _model_at(path: DataPath, root: type[BaseModel]) -> type[BaseModel] | None:
    """The model class that validates the mapping at `path`, if any."""
    current: Any = root
    for part in path:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(part)
        if field is None:
            return None
        current = _inner_model(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (list, typing.Union, types.UnionType, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _inner_model(arg)
            if found is not None:
                return found
    return None


def _quoted_choices(expected: str) -> list[str]:
    return re.findall(r"'([^']*)'", expected)


def _phrase(error: ErrorDetails, key: str) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "literal_error" and key == "format_version":
        return (
            f"this file is written in format version {value!r}, but this tm-docs reads "
            f"version {ctx.get('expected')}; write 'format_version: {ctx.get('expected')}' "
            "or upgrade tm-docs"
        )
    if kind in ("enum", "literal_error"):
        choices = _quoted_choices(str(ctx.get("expected", ""))) or [str(ctx.get("expected"))]
        if isinstance(value, str):
            hint = did_you_mean(value, choices)
            return f"'{value}' is not one of the allowed values{hint}; use one of: " + ", ".join(
                choices
            )
        return f"expected one of {', '.join(choices)}, got {describe_value(value)}"
    if kind == "string_type":
        if value is None:
            return "is empty; give it a value or remove the key"
        hint = ""
        if isinstance(value, bool | int | float) or type(value).__name__ in ("date", "datetime"):
            hint = " (YAML read it as a non-text value: put it in quotes to keep it as written)"
        return f"expected text, got {describe_value(value)}{hint}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, got {describe_value(value)}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {describe_value(value)}"
    if kind in ("list_type",):
        return (
            f"expected a list, got {describe_value(value)}; write items as '- item' lines or [a, b]"
        )
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of keys and values, got {describe_value(value)}"
    if kind == "missing":
        return f"missing required key '{key}'"
    if kind == "too_short":
        return "needs at least one entry" if isinstance(value, list) else "must not be empty"
    if kind == "too_long":
        return (
            f"has {ctx.get('actual_length')} entries; at most {ctx.get('max_length')} are "
            "allowed in one model (split the system into several models)"
        )
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"is too long (at most {ctx.get('max_length')} characters)"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}, got {value!r}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}, got {value!r}"
    if kind == "string_pattern_mismatch":
        help_text = PATTERN_HELP.get(str(ctx.get("pattern")), f"it must match {ctx.get('pattern')}")
        return f"'{value}' is not valid: {help_text}"
    if kind.startswith("date") or kind.startswith("datetime"):
        return f"'{value}' is not a valid date; write it as YYYY-MM-DD"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return error["msg"]


def validation_problems(
    exc: ValidationError,
    data: Any,
    source: SourceMap,
    display: str,
    *,
    root: type[BaseModel] = ThreatModel,
    lists: Lists = MODEL_LISTS,
    prefix: DataPath = (),
) -> list[Problem]:
    """Problems for the errors of validating the data at `prefix` with `root`."""
    problems = []
    for error in exc.errors(include_url=False):
        path: DataPath = (*prefix, *error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            owner = _model_at(tuple(error["loc"][:-1]), root)
            problems.append(_unknown_key(path, data, source, display, owner, lists))
            continue
        label, rest = element_label(data, path, lists)
        key = str(path[-1]) if path else ""
        # The message names a missing key itself, and list positions are plain
        # from the line number, so neither is repeated in the field name.
        field_name = _dotted(rest[:-1] if kind == "missing" else rest)
        where = ": ".join(part for part in (label, field_name) if part)
        position = source.locate(path[:-1] if kind == "missing" else path)
        message = f"{where}: {_phrase(error, key)}" if where else _phrase(error, key)
        problems.append(Problem(display, position.line, position.column, message))
    return problems


def _unknown_key(
    path: DataPath,
    data: Any,
    source: SourceMap,
    display: str,
    owner: type[BaseModel] | None,
    lists: Lists,
) -> Problem:
    key = str(path[-1])
    allowed = list(owner.model_fields) if owner else []
    label, rest = element_label(data, path, lists)
    parent = _dotted(rest[:-1])
    where = ": ".join(part for part in (label, parent) if part)
    hint = did_you_mean(key, allowed)
    if not hint and allowed:
        hint = "; allowed keys: " + ", ".join(allowed)
    message = f"unknown key '{key}'{hint}"
    position = source.locate(path, key=True)
    return Problem(
        display, position.line, position.column, f"{where}: {message}" if where else message
    )
