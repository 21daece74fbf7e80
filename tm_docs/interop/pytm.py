"""pytm models into tm-docs, from pytm's JSON, never from its Python source.

A pytm model is a Python program; running it would run whatever it contains,
and reading it with `ast` recovers only the literal parts of a program that may
build its elements in loops.  pytm reads and writes a JSON form of the model
(elements by class, `inBoundary`, data with classification, findings), so that
is what tm-docs imports: data, not code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import scales
from .common import (
    Element,
    Ids,
    ImportFailure,
    Lossy,
    as_dict,
    as_list,
    as_text,
    one_line,
    protocol_encryption,
    read_json,
    slug,
    text_block,
)

NS = "pytm"
KINDS = {
    "Actor": "external_entity",
    "Datastore": "data_store",
    "Process": "process",
    "Server": "process",
    "Lambda": "process",
    "SetOfProcesses": "process",
    "ExternalEntity": "external_entity",
    "Asset": "process",
}
CLASSIFICATION = {
    "PUBLIC": "public",
    "UNKNOWN": "internal",
    "RESTRICTED": "internal",
    "SENSITIVE": "confidential",
    "SECRET": "restricted",
    "TOP_SECRET": "restricted",
}
MAPPED_ELEMENT = {"__class__", "name", "description", "inBoundary"}
# pytm attributes that are tm-docs facts; pytm's JSON lists only what its author set, so
# `false` is a statement too.
ELEMENT_FACTS = {
    "isHardened": "hardened",
    "sanitizesInput": "escapes_input",
    "isEncrypted": "encrypted_at_rest",
}
MAPPED_FLOW = {"name", "source", "sink", "data", "note", "protocol", "isEncrypted", "description"}
MAPPED_MODEL = {"name", "description", "boundaries", "data", "elements", "flows", "findings"}


def import_pytm(path: Path, display: str) -> tuple[dict[str, Any], Lossy]:
    if path.suffix.lower() == ".py":
        raise ImportFailure(
            f"{display}: a pytm model is a Python program, which tm-docs never runs; "
            "import the JSON form of the model instead"
        )
    data = read_json(path, display)
    if not isinstance(data, dict) or "elements" not in data:
        raise ImportFailure(f"{display}: not a pytm JSON model (no 'elements')")
    return from_pytm(data)


def from_pytm(data: dict[str, Any]) -> tuple[dict[str, Any], Lossy]:
    report = Lossy("pytm")
    ids = Ids()
    title = one_line(data.get("name")) or "Imported model"
    model = Element(report, f"model '{one_line(title, 60)}'", NS)
    model.set("id", slug(title, lower=True).replace("_", "-"))
    model.set("title", title)
    model.set("description", text_block(data.get("description")))
    model.set("owner", "unknown")
    model.invent("owner: pytm models have none; set to 'unknown'")
    model.keep_rest(data, MAPPED_MODEL)

    boundaries = []
    for raw in (as_dict(b) for b in as_list(data.get("boundaries"))):
        name = as_text(raw.get("name"))
        element = Element(report, f"boundary '{one_line(name, 60)}'", NS)
        new_id = ids.make("boundary", name, "boundary")
        element.set("id", new_id)
        if new_id != name:
            element.keep("name", name)
        element.set("title", one_line(name) or new_id)
        element.set("trust", "internal")
        element.invent("trust level: pytm has none; set to 'internal'")
        element.set("description", text_block(raw.get("description")))
        parent = as_text(raw.get("inBoundary"))
        boundaries.append((element, parent))
        report.count("boundaries")
    for element, parent in boundaries:
        if parent and ids.get("boundary", parent):
            element.set("parent", ids.of("boundary", parent))

    assets = []
    for raw in (as_dict(d) for d in as_list(data.get("data"))):
        name = as_text(raw.get("name"))
        element = Element(report, f"data '{one_line(name, 60)}'", NS)
        new_id = ids.make("data", name, "data")
        element.set("id", new_id)
        element.set("title", one_line(name) or new_id)
        element.set("kind", "secret" if raw.get("isCredentials") is True else "data_set")
        level = as_text(raw.get("classification")).upper()
        classification = CLASSIFICATION.get(level)
        if classification is None:
            classification = "confidential"
            element.invent(
                f"classification: '{one_line(level, 30)}' unknown; set to 'confidential'"
            )
        elif list(CLASSIFICATION.values()).count(classification) > 1:
            element.keep("classification", level)
        element.set("classification", classification)
        element.set("description", text_block(raw.get("description")))
        element.keep_rest(raw, {"name", "classification", "description"})
        assets.append(element)
        report.count("assets")

    components = []
    for raw in (as_dict(e) for e in as_list(data.get("elements"))):
        name = as_text(raw.get("name"))
        cls = as_text(raw.get("__class__"))
        element = Element(report, f"{one_line(cls, 30) or 'element'} '{one_line(name, 60)}'", NS)
        new_id = ids.make("element", name, "element")
        element.set("id", new_id)
        element.set("title", one_line(name) or new_id)
        kind = KINDS.get(cls)
        if kind is None:
            kind = "process"
            element.invent(f"kind 'process' for pytm class '{one_line(cls, 30)}'")
        element.set("kind", kind)
        element.keep("class", cls)
        boundary = as_text(raw.get("inBoundary"))
        if boundary:
            if ids.get("boundary", boundary):
                element.set("boundary", ids.of("boundary", boundary))
            else:
                element.lossy(f"boundary '{one_line(boundary, 60)}' does not exist; placed outside")
        element.set("description", text_block(raw.get("description")))
        for key, fact in ELEMENT_FACTS.items():
            if isinstance(raw.get(key), bool) and (
                fact != "encrypted_at_rest" or kind == "data_store"
            ):
                element.set(fact, raw.get(key))
        element.keep_rest(raw, MAPPED_ELEMENT)
        components.append(element)
        report.count("components")

    flows = []
    for raw in (as_dict(f) for f in as_list(data.get("flows"))):
        name = as_text(raw.get("name"))
        element = Element(report, f"flow '{one_line(name, 60)}'", NS)
        source = ids.get("element", as_text(raw.get("source")))
        sink = ids.get("element", as_text(raw.get("sink")))
        if source is None or sink is None:
            report.lossy(element.source, "source or sink is not an element; not imported")
            continue
        new_id = ids.make("flow", name, "flow")
        element.set("id", new_id)
        element.set("title", one_line(name) or None)
        element.set("source", source)
        element.set("destination", sink)
        element.set("protocol", one_line(raw.get("protocol")) or None)
        if isinstance(raw.get("isEncrypted"), bool):
            element.set("encrypted", raw.get("isEncrypted"))
        else:
            element.set("encrypted", protocol_encryption(as_text(raw.get("protocol"))))
        data_ids = []
        for ref in as_list(raw.get("data")):
            found = ids.get("data", as_text(ref))
            if found is None:
                element.lossy(f"data '{one_line(ref, 60)}' does not exist; reference dropped")
            else:
                data_ids.append(found)
        element.set("data", data_ids)
        description = "\n\n".join(
            t for t in (text_block(raw.get("description")), text_block(raw.get("note"))) if t
        )
        element.set("description", description)
        element.keep_rest(raw, MAPPED_FLOW)
        flows.append(element)
        report.count("flows")

    threats = []
    for raw in (as_dict(f) for f in as_list(data.get("findings"))):
        sid = as_text(raw.get("threat_id") or raw.get("id"))
        element = Element(report, f"finding '{one_line(sid, 60)}'", NS)
        target = ids.get("element", as_text(raw.get("target"))) or ids.get(
            "flow", as_text(raw.get("target"))
        )
        if target is None:
            report.lossy(element.source, "its target is not an element or flow; not imported")
            continue
        new_id = ids.make("finding", f"{sid}@{raw.get('target')}", f"{sid}-{target}")
        element.set("id", new_id)
        element.set("title", one_line(raw.get("description")) or sid)
        element.set("description", text_block(raw.get("details")))
        element.set("categories", ["tampering"])
        element.invent("category: pytm findings carry none; set to 'tampering'")
        element.set("targets", [target])
        impact, likelihood = scales.SEVERITY_SPLIT.get(as_text(raw.get("severity")).lower(), (3, 3))
        element.set("impact", impact)
        element.set("likelihood", likelihood)
        element.invent(f"impact {impact} and likelihood {likelihood} split from severity")
        element.keep("sid", sid)
        element.keep_rest(raw, {"threat_id", "id", "target", "description", "details", "severity"})
        threats.append(element)
        report.count("threats")

    out = model.build()
    out["format_version"] = 1
    out["boundaries"] = [e.build() for e, _ in boundaries]
    out["components"] = [e.build() for e in components]
    out["flows"] = [e.build() for e in flows]
    out["assets"] = [e.build() for e in assets]
    out["threats"] = [e.build() for e in threats]
    return out, report
