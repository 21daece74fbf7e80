"""The import and export commands' work, for the CLI: read, convert, write, report."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ..load.models import load_file
from ..model import ThreatModel
from ..problems import display_path
from ..render.terminal import one_line
from . import otm, pytm, threagile, threat_dragon
from .common import ImportFailure, Lossy
from .writer import finish, model_yaml

Importer = Callable[[Path, str], tuple[dict[str, Any], Lossy]]
IMPORTERS: dict[str, Importer] = {
    "otm": otm.import_otm,
    "threat-dragon": threat_dragon.import_threat_dragon,
    "threagile": threagile.import_threagile,
    "pytm": pytm.import_pytm,
}


def import_model(source_format: str, path: Path) -> tuple[ThreatModel, str, Lossy]:
    """The imported model, its YAML text and the loss report; ImportFailure if impossible."""
    display = display_path(path)
    data, report = IMPORTERS[source_format](path, display)
    model = finish(data, display)
    return model, model_yaml(model, report, path.name), report


def report_lines(report: Lossy) -> list[str]:
    """One line per note, then the summary line."""
    lines = [one_line(f"warning: {note}") for note in report]
    imported = sum(report.imported.values())
    parts = ", ".join(f"{n} {k}" for k, n in report.imported.items() if k != "skipped")
    lines.append(
        f"imported {imported} elements ({parts or 'none'}); "
        f"{len(report.of('lossy'))} lossy, {len(report.of('invented'))} invented"
    )
    return lines


def export_text(model_file: Path, output_format: str) -> str:
    model, problems = load_file(model_file)
    if model is None:
        first = problems[0] if problems else None
        where = f"{first.file}:{first.line}:{first.column}: {first.message}" if first else ""
        raise ImportFailure(f"{display_path(model_file)} is not a valid model: {where}")
    document = otm.to_otm(model)
    if output_format == "yaml":
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
