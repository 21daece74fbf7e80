"""STRIDE per element: which categories apply to which kind of element, and coverage.

The default chart is the usual one for data-flow diagrams:

- external entity: spoofing, repudiation;
- process: all six;
- data store: tampering, repudiation, information disclosure, denial of service
  (repudiation because stores often hold the logs that settle disputes);
- queue: as a data store (a queue is a store in motion);
- data flow: tampering, information disclosure, denial of service.

A site can change it (plugin option `stride_per_element`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..model import ComponentKind, Stride, Threat, ThreatModel

S, T, R, I, D, E = Stride  # noqa: E741 - the letters of STRIDE

DEFAULT_CHART: dict[str, tuple[Stride, ...]] = {
    ComponentKind.EXTERNAL_ENTITY.value: (S, R),
    ComponentKind.PROCESS.value: (S, T, R, I, D, E),
    ComponentKind.DATA_STORE.value: (T, R, I, D),
    ComponentKind.QUEUE.value: (T, R, I, D),
    "flow": (T, I, D),
}


def chart_from(options: Mapping[str, Sequence[str]] | None) -> dict[str, tuple[Stride, ...]]:
    """The default chart with a site's overrides; raises ValueError on unknown names."""
    chart = dict(DEFAULT_CHART)
    for kind, categories in (options or {}).items():
        if kind not in chart:
            raise ValueError(
                f"stride_per_element: '{kind}' is not an element kind; "
                f"use {', '.join(DEFAULT_CHART)}"
            )
        try:
            chart[kind] = tuple(Stride(c) for c in categories)
        except (ValueError, TypeError):
            raise ValueError(
                f"stride_per_element: {kind}: use STRIDE category names such as "
                f"{', '.join(s.value for s in Stride)}"
            ) from None
    return chart


@dataclass(frozen=True)
class Cell:
    """Coverage of one element for one applicable category."""

    category: Stride
    threats: tuple[Threat, ...] = ()
    not_applicable: str | None = None  # the model's reason

    @property
    def state(self) -> str:
        if self.threats:
            return "covered"
        if self.not_applicable is not None:
            return "not applicable"
        return "not analysed"


@dataclass(frozen=True)
class Row:
    element_id: str
    element_kind: str  # "component" or "flow"
    title: str
    kind: str  # chart key: component kind or "flow"
    cells: dict[Stride, Cell] = field(default_factory=dict)  # only applicable categories


@dataclass(frozen=True)
class Coverage:
    rows: tuple[Row, ...]

    @property
    def cells(self) -> list[tuple[Row, Cell]]:
        return [(row, cell) for row in self.rows for cell in row.cells.values()]

    @property
    def gaps(self) -> list[tuple[Row, Cell]]:
        return [(r, c) for r, c in self.cells if c.state == "not analysed"]

    @property
    def percent(self) -> int:
        cells = self.cells
        if not cells:
            return 100
        # Rounded down: one gap left must never show as 100%.
        return (100 * (len(cells) - len(self.gaps))) // len(cells)


def coverage(model: ThreatModel, chart: Mapping[str, Sequence[Stride]] = DEFAULT_CHART) -> Coverage:
    """Each component and flow against the categories that apply to its kind."""
    exceptions: dict[tuple[str, Stride], str] = {}
    for entry in model.not_applicable:
        for category in entry.categories:
            exceptions[(entry.element, category)] = entry.reason
    # Elements marked out of scope are deliberately not analysed: no cells, no gaps.
    elements = [
        ("component", c.id, c.title, c.kind.value) for c in model.components if not c.out_of_scope
    ]
    elements += [("flow", f.id, f.title or f.id, "flow") for f in model.flows if not f.out_of_scope]
    rows = []
    for element_kind, element_id, title, kind in elements:
        cells = {}
        for category in chart[kind]:
            threats = tuple(
                t for t in model.threats if element_id in t.targets and category in t.categories
            )
            cells[category] = Cell(category, threats, exceptions.get((element_id, category)))
        rows.append(Row(element_id, element_kind, title, kind, cells))
    return Coverage(tuple(rows))
