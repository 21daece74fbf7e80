"""The mitigation backlog and the controls as CSV and JSON, for trackers and other tools."""

from __future__ import annotations

import csv
import io
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


def backlog_csv(portfolio: Portfolio) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in backlog_rows(portfolio):
        row = {**row, "threats": " ".join(t["id"] for t in row["threats"])}
        writer.writerow([_cell(row[c]) for c in CSV_COLUMNS])
    return out.getvalue()


def backlog_json(portfolio: Portfolio) -> str:
    bands = [{"name": b.name, "min": b.low, "max": b.high} for b in portfolio.bands.bands]
    document = {"bands": bands, "items": backlog_rows(portfolio)}
    return dumps(document) + "\n"


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
