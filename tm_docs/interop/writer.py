"""Turning an imported model into a tm-docs file, and writing files safely."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..load.models import load_text
from ..model import ThreatModel
from .common import ImportFailure, Lossy


def finish(data: dict[str, Any], display: str) -> ThreatModel:
    """Validate what an importer built; a failure here is a gap of the importer."""
    try:
        return ThreatModel.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ImportFailure(
            f"{display}: the imported model is not valid at {where}: {first['msg']} "
            "(please report this file's shape to tm-docs)"
        ) from None


def model_yaml(model: ThreatModel, report: Lossy, source: str) -> str:
    """The model as YAML, keys in the format's order, with a header for the reader."""
    data = model.model_dump(mode="json", exclude_defaults=True)
    data = {"format_version": model.format_version, **data}
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    invented = len(report.of("invented"))
    lossy = len(report.of("lossy"))
    header = [
        "# yaml-language-server: $schema=../docs/schema/threat-model-v1.json",
        f"# Imported by 'tm-docs import {report.source_format}' from {source}.",
        f"# {lossy} values had no place and {invented} were invented; look for the",
        "# attribute 'tm-docs.review' to find what a person should check.",
    ]
    text = "\n".join(header) + "\n" + body
    loaded, problems, _ = load_text(text.encode("utf-8"), source)
    if loaded is None:
        raise ImportFailure(
            f"{source}: the written model does not load again: "
            + "; ".join(p.message for p in problems[:3])
        )
    return text


def write_new(path: Path, text: str, force: bool) -> None:
    """Write atomically; an existing file is replaced only with `force`."""
    if path.exists() and not force:
        raise ImportFailure(f"{path} exists; choose another file or pass --force to replace it")
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as exc:
        raise ImportFailure(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        if force:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails, rather than replaces, if the file appeared
            os.unlink(temporary)
    except FileExistsError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise ImportFailure(f"{path} exists; pass --force to replace it") from None
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise ImportFailure(f"cannot write {path}: {exc.strerror or exc}") from None
