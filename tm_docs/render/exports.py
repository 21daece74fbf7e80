"""The mitigation backlog and the controls as CSV and JSON, for trackers and other tools."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..analysis.controls import Framework
from ..analysis.portfolio import BacklogItem, Portfolio
from .json_text import dumps

CSV_COLUMNS = (
    "rank",
    "model",
    "mitigation",
    "title",
    "owner",
    "status",
    "risk",
    "band",
    "sprint",
    "ticket",
    "threats",
)

# Spreadsheets run cells starting with these as formulas; model text is untrusted.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def backlog_rows(portfolio: Portfolio) -> list[dict[str, Any]]:
    return [_row(rank, item) for rank, item in enumerate(portfolio.backlog, start=1)]


def _row(rank: int, item: BacklogItem) -> dict[str, Any]:
    mitigation = item.mitigation
    return {
        "rank": rank,
        "model": item.model.id,
        "mitigation": mitigation.id,
        "title": mitigation.title,
        "owner": mitigation.owner,
        "status": mitigation.status.value,
        "risk": item.risk,
        "band": item.band.name if item.band else None,
        "sprint": mitigation.sprint,
        "ticket": mitigation.ticket,
        "threats": [
            {"id": t.threat.id, "title": t.threat.title, "risk": t.threat.risk, "band": t.band.name}
            for t in item.threats
        ],
    }


@dataclass
class BacklogTexts:
    """The text of each backlog item's row after its rank, in the CSV and the JSON export,
    kept across `mkdocs serve` rebuilds (by the page memo) for the item it was written of:
    an unchanged model's part of the portfolio gives the very same items again, so an
    export after an edit writes again only the rows of the edited model, and the ranks
    (which an edit elsewhere moves) apart.  Only the last export's items are kept."""

    _csv: dict[int, tuple[BacklogItem, str]] = field(default_factory=dict)
    _json: dict[int, tuple[BacklogItem, str]] = field(default_factory=dict)
    written: int = 0  # rows the last export wrote afresh

    def csv_rests(self, items: list[BacklogItem]) -> list[str]:
        self._csv, texts = self._rests(self._csv, items, _csv_rest)
        return texts

    def json_rests(self, items: list[BacklogItem]) -> list[str]:
        self._json, texts = self._rests(self._json, items, _json_rest)
        return texts

    def _rests(
        self,
        earlier: dict[int, tuple[BacklogItem, str]],
        items: list[BacklogItem],
        make: Callable[[BacklogItem], str],
    ) -> tuple[dict[int, tuple[BacklogItem, str]], list[str]]:
        kept: dict[int, tuple[BacklogItem, str]] = {}
        self.written = 0
        for item in items:
            found = earlier.get(id(item))
            if found is None or found[0] is not item:  # an id is only unique while alive
                found = (item, make(item))
                self.written += 1
            kept[id(item)] = found
        return kept, [kept[id(item)][1] for item in items]


def _rest(item: BacklogItem) -> dict[str, Any]:
    row = _row(0, item)
    del row["rank"]
    return row


def _csv_rest(item: BacklogItem) -> str:
    """The item's CSV line after the rank cell: a rank is a positive integer, which is
    never quoted, so a line is the rank, a comma and this."""
    out = io.StringIO()
    row = _rest(item)
    row["threats"] = " ".join(t["id"] for t in row["threats"])
    csv.writer(out, lineterminator="\r\n").writerow([_cell(row[c]) for c in CSV_COLUMNS[1:]])
    return out.getvalue()


def _json_rest(item: BacklogItem) -> str:
    """The item's entries after the rank, as `dumps` writes them in `backlog_json` (an
    item is two levels in: each line four more spaces in than at the top of a document;
    a JSON string never holds a line break)."""
    lines = dumps(_rest(item)).split("\n")  # "{", the entries, "}"
    return "\n".join(f"    {line}" for line in lines[1:])


def backlog_csv(portfolio: Portfolio, texts: BacklogTexts | None = None) -> str:
    """The backlog as CSV; with `texts`, rows written before for the same items are reused."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    if texts is not None:
        rests = texts.csv_rests(portfolio.backlog)
        return out.getvalue() + "".join(f"{n},{rest}" for n, rest in enumerate(rests, start=1))
    for row in backlog_rows(portfolio):
        row = {**row, "threats": " ".join(t["id"] for t in row["threats"])}
        writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def backlog_json(portfolio: Portfolio, texts: BacklogTexts | None = None) -> str:
    """The backlog as JSON; with `texts`, rows written before for the same items are reused."""
    bands = [{"name": b.name, "min": b.low, "max": b.high} for b in portfolio.bands.bands]
    head = dumps({"bands": bands, "items": []})
    # The splice below leans on how `dumps` lays out an empty list at the end of a
    # document; should that ever differ, the document is written whole.
    if texts is None or not portfolio.backlog or not head.endswith(_NO_ITEMS):
        document = {"bands": bands, "items": backlog_rows(portfolio)}
        return dumps(document) + "\n"
    rests = texts.json_rests(portfolio.backlog)
    items = ",\n".join(
        f'    {{\n      "rank": {rank},\n{rest}' for rank, rest in enumerate(rests, start=1)
    )
    return f"{head[: -len(_NO_ITEMS)]}[\n{items}\n  ]\n}}\n"


_NO_ITEMS = "[]\n}"


CONTROL_CSV_COLUMNS = (
    "framework",
    "control",
    "model",
    "mitigation",
    "title",
    "owner",
    "status",
    "threats",
)


def control_rows(frameworks: list[Framework]) -> list[dict[str, Any]]:
    """One entry per framework, each control with the mitigations implementing it."""
    return [
        {
            "framework": framework.id,
            "name": framework.name,
            "namespace": framework.namespace,
            "version": framework.version,
            "controls": [
                {
                    "id": control.id,
                    "identifier": control.control.identifier,
                    "mitigations": [
                        {
                            "model": use.model.id,
                            "mitigation": use.mitigation.id,
                            "title": use.mitigation.title,
                            "owner": use.mitigation.owner,
                            "status": use.mitigation.status.value,
                            "threats": [
                                {
                                    "id": t.threat.id,
                                    "title": t.threat.title,
                                    "status": t.threat.status.value,
                                    "risk": t.threat.risk,
                                    "band": t.band.name,
                                }
                                for t in use.threats
                            ],
                        }
                        for use in control.uses
                    ],
                }
                for control in framework.controls
            ],
        }
        for framework in frameworks
    ]


def controls_csv(frameworks: list[Framework]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CONTROL_CSV_COLUMNS)
    for framework in control_rows(frameworks):
        for control in framework["controls"]:
            for use in control["mitigations"]:
                row = {
                    **use,
                    "framework": framework["framework"],
                    "control": control["id"],
                    "threats": " ".join(t["id"] for t in use["threats"]),
                }
                writer.writerow([_cell(row[c]) for c in CONTROL_CSV_COLUMNS])
    return out.getvalue()


def controls_json(frameworks: list[Framework]) -> str:
    return dumps({"frameworks": control_rows(frameworks)}) + "\n"


def spreadsheet_cell(value: object) -> str:
    """A CSV cell that a spreadsheet shows as text, never runs as a formula."""
    return _cell(value)
