"""A model's analysis as JSON, for the signed cache of a new build.

A model's analysis (its STRIDE coverage, its suggested threats with their triage, and the
warnings about dismissals that match nothing) depends only on the model file, the rules,
the STRIDE chart and tm-docs' own code.  `mkdocs serve` keeps it in memory; a new
`mkdocs build` takes it from a signed entry of the cache folder (`load/signed.py`) keyed
by all of those, so that an unchanged model is not analysed again in every process.

An entry names what it holds by ids and positions: the rule by its place in the rule set
(and its id, checked), the element, the accepting threat and the covering threats by
their ids in the model.  Reading it back finds each of them in the model and the rules it
was made from; whatever does not fit (an unknown id, a wrong type) makes the entry
unusable, and the model is analysed afresh.  A subject's facts are worked out again from
the model (`facts.subjects`): they are values of many types that JSON would not keep.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..model import Stride, ThreatModel
from ..problems import Problem
from .facts import Subject, subjects
from .rules import Rule
from .stride import Cell, Coverage, Row
from .suggest import Suggestion, Triage
from .topology import Topology

ANALYSIS_CACHE = "analyses"  # the cache folder's signed analyses, one entry a model
MAX_ANALYSIS_ENTRY_BYTES = 16 * 1024 * 1024
FORMAT = 1

Parts = tuple[Coverage, tuple[Suggestion, ...], tuple[Problem, ...]]


class NotStored(ValueError):
    """The entry does not hold an analysis of this model with these rules."""


def encode(
    coverage: Coverage,
    found: Sequence[Suggestion],
    warnings: Sequence[Problem],
    rules: Sequence[Rule],
) -> dict[str, Any]:
    """The analysis as JSON values."""
    place = {id(rule): index for index, rule in enumerate(rules)}
    return {
        "format": FORMAT,
        "coverage": [
            [
                row.element_id,
                row.element_kind,
                row.title,
                row.kind,
                [
                    [cell.category.value, [t.id for t in cell.threats], cell.not_applicable]
                    for cell in row.cells.values()
                ],
            ]
            for row in coverage.rows
        ],
        "suggestions": [
            [
                place[id(s.rule)],
                s.rule.id,
                s.subject.kind,
                s.subject.id,
                s.triage.value,
                s.threat.id if s.threat is not None else None,
                s.reason,
                list(s.folded),
            ]
            for s in found
        ],
        "warnings": [w.as_row() for w in warnings],
    }


def decode(
    value: Any, model: ThreatModel, rules: Sequence[Rule], topology: Topology | None = None
) -> Parts:
    """The analysis an `encode` value holds, with the model's own objects in it;
    `NotStored` when the value is not one of this model and these rules."""
    try:
        if not isinstance(value, dict) or value.get("format") != FORMAT:
            raise NotStored("not an analysis of this format")
        threats = {t.id: t for t in model.threats}
        coverage = Coverage(tuple(_row(item, threats) for item in _list(value["coverage"])))
        items = _list(value["suggestions"])
        found: tuple[Suggestion, ...] = ()
        if items:
            by_element = {(s.kind, s.id): s for s in subjects(model, topology)}
            found = tuple(_suggestion(item, rules, by_element, threats) for item in items)
        warnings = tuple(Problem.from_row(row) for row in _list(value["warnings"]))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise NotStored(str(exc)) from None
    return coverage, found, warnings


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("not a list")
    return value


def _text(value: Any, *, optional: bool = False) -> Any:
    if isinstance(value, str) or (optional and value is None):
        return value
    raise TypeError("not a text")


def _row(item: Any, threats: Mapping[str, Any]) -> Row:
    element_id, element_kind, title, kind, cells = _list(item)
    row_cells: dict[Stride, Cell] = {}
    for category, threat_ids, not_applicable in map(_list, _list(cells)):
        stride = Stride(category)
        row_cells[stride] = Cell(
            stride,
            tuple(threats[_text(t)] for t in _list(threat_ids)),
            _text(not_applicable, optional=True),
        )
    return Row(_text(element_id), _text(element_kind), _text(title), _text(kind), row_cells)


def _suggestion(
    item: Any,
    rules: Sequence[Rule],
    by_element: Mapping[tuple[str, str], Subject],
    threats: Mapping[str, Any],
) -> Suggestion:
    index, rule_id, kind, element_id, triage, threat_id, reason, folded = _list(item)
    if type(index) is not int or not 0 <= index < len(rules) or rules[index].id != rule_id:
        raise ValueError(f"no rule {rule_id!r} at {index!r}")
    return Suggestion(
        rules[index],
        by_element[(_text(kind), _text(element_id))],
        Triage(triage),
        threats[_text(threat_id)] if threat_id is not None else None,
        _text(reason, optional=True),
        tuple(_text(f) for f in _list(folded)),
    )
