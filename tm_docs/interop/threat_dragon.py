"""OWASP Threat Dragon version 2 models (JSON) into tm-docs.

Boundary membership exists only in the diagram's geometry: a component belongs
to the smallest boundary box that holds its centre.  A curve boundary is a line
drawn across flows, not an area, so it becomes no boundary (reported).  Threat
Dragon writes `false` for every flag nobody set, so only `true` is imported as
a fact; `false` stays unknown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..model import Stride
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

NS = "threat-dragon"
KINDS = {"tm.Actor": "external_entity", "tm.Process": "process", "tm.Store": "data_store"}
STRIDE_TYPES = {
    "spoofing": Stride.SPOOFING,
    "tampering": Stride.TAMPERING,
    "repudiation": Stride.REPUDIATION,
    "information disclosure": Stride.INFORMATION_DISCLOSURE,
    "denial of service": Stride.DENIAL_OF_SERVICE,
    "elevation of privilege": Stride.ELEVATION_OF_PRIVILEGE,
}
STATUSES = {
    "open": "open",
    "mitigated": "mitigated",
    "n/a": "false_positive",
    "na": "false_positive",
}
# Flags kept as attributes when set (`true`); the ones with a tm-docs field are mapped.
FLAG_FIELDS = {
    ("tm.Flow", "isEncrypted"): "encrypted",
    ("tm.Flow", "isBidirectional"): "bidirectional",
    ("tm.Store", "isEncrypted"): "encrypted_at_rest",
}
IGNORED = {
    "type",
    "name",
    "description",
    "outOfScope",
    "reasonOutOfScope",
    "threats",
    "hasOpenThreats",
}


def _box(cell: dict[str, Any]) -> tuple[float, float, float, float] | None:
    position, size = as_dict(cell.get("position")), as_dict(cell.get("size"))
    try:
        x, y = float(position["x"]), float(position["y"])
        w, h = float(size["width"]), float(size["height"])
    except (KeyError, TypeError, ValueError):
        return None
    return x, y, w, h


def _inside(
    inner: tuple[float, float, float, float], outer: tuple[float, float, float, float]
) -> bool:
    cx, cy = inner[0] + inner[2] / 2, inner[1] + inner[3] / 2
    return outer[0] <= cx <= outer[0] + outer[2] and outer[1] <= cy <= outer[1] + outer[3]


def _smallest(
    box: tuple[float, float, float, float],
    boxes: dict[str, tuple[float, float, float, float]],
    skip: str = "",
) -> str | None:
    holding = [(b[2] * b[3], cid) for cid, b in boxes.items() if cid != skip and _inside(box, b)]
    holding = [h for h in holding if h[0] > box[2] * box[3] or skip == ""]
    return min(holding)[1] if holding else None


def import_threat_dragon(path: Path, display: str) -> tuple[dict[str, Any], Lossy]:
    data = read_json(path, display)
    detail = as_dict(as_dict(data).get("detail"))
    diagrams = [as_dict(d) for d in as_list(detail.get("diagrams"))]
    if not diagrams and "summary" not in as_dict(data):
        raise ImportFailure(f"{display}: not a Threat Dragon model (no 'summary' and 'detail')")
    if any("diagramJson" in d for d in diagrams):
        raise ImportFailure(
            f"{display}: this is a Threat Dragon version 1 model; open it in Threat Dragon 2 "
            "and save it, then import the saved file"
        )
    return from_threat_dragon(as_dict(data))


def from_threat_dragon(data: dict[str, Any]) -> tuple[dict[str, Any], Lossy]:
    report = Lossy("threat-dragon")
    ids = Ids()
    summary = as_dict(data.get("summary"))
    detail = as_dict(data.get("detail"))
    title = one_line(summary.get("title")) or "Imported model"
    model = Element(report, f"model '{one_line(title, 60)}'", NS)
    model_id = slug(title, lower=True).replace("_", "-")
    model.set("id", model_id)
    model.set("title", title)
    model.set("description", text_block(summary.get("description")))
    owner = one_line(summary.get("owner"))
    if not owner:
        owner = "unknown"
        model.invent("owner: none given; set to 'unknown'")
    model.set("owner", owner)
    reviewers = [one_line(detail.get("reviewer"))] if one_line(detail.get("reviewer")) else []
    reviewers += [one_line(as_dict(c).get("name")) for c in as_list(detail.get("contributors"))]
    model.set("reviewers", [r for r in reviewers if r])
    model.keep("version", data.get("version"))

    cells: list[tuple[dict[str, Any], dict[str, Any]]] = []  # (cell, diagram)
    for diagram in (as_dict(d) for d in as_list(detail.get("diagrams"))):
        for cell in as_list(diagram.get("cells")):
            cells.append((as_dict(cell), diagram))
    if len({one_line(d.get("title")) for _, d in cells}) > 1:
        model.lossy("several diagrams merged into one model; the diagram of each element is kept")

    def name_of(cell: dict[str, Any]) -> str:
        label = one_line(as_dict(cell.get("data")).get("name"), 60) or "no name"
        return f"cell '{one_line(cell.get('id'), 60)}' ({label})"

    boxes: dict[str, tuple[float, float, float, float]] = {}
    for cell, _ in cells:
        if as_dict(cell.get("data")).get("type") == "tm.BoundaryBox":
            box = _box(cell)
            if box is not None:
                boxes[as_text(cell.get("id"))] = box
    boundaries: list[tuple[str, Element]] = []
    for cell, diagram in cells:
        info = as_dict(cell.get("data"))
        kind = as_text(info.get("type"))
        cid = as_text(cell.get("id"))
        if kind == "tm.BoundaryBox":
            element = Element(report, name_of(cell), NS)
            if cid not in boxes:
                report.lossy(element.source, "boundary box without position or size; not imported")
                continue
            new_id = ids.make("cell", cid, as_text(info.get("name")) or "boundary")
            element.set_id(new_id, cid)
            element.set("title", one_line(info.get("name")) or f"Boundary {len(boundaries) + 1}")
            element.set("trust", "internal")
            element.invent("trust level: Threat Dragon has none; set to 'internal'")
            element.set("description", text_block(info.get("description")))
            element.keep("diagram", one_line(diagram.get("title")))
            boundaries.append((cid, element))
            report.count("boundaries")
    for cid, element in boundaries:
        parent = _smallest(boxes[cid], boxes, skip=cid)
        if parent is not None:
            element.set("parent", ids.of("cell", parent))

    components: list[Element] = []
    flows: list[Element] = []
    assets: list[Element] = []
    threats: list[Element] = []
    mitigations: list[Element] = []
    component_cells = {
        as_text(c.get("id")) for c, _ in cells if as_dict(c.get("data")).get("type") in KINDS
    }
    for cell, _ in cells:
        cid = as_text(cell.get("id"))
        if cid in component_cells:
            name = as_text(as_dict(cell.get("data")).get("name")) or "component"
            ids.make("cell", cid, name)
    for cell, diagram in cells:
        info = as_dict(cell.get("data"))
        kind = as_text(info.get("type"))
        cid = as_text(cell.get("id"))
        element = Element(report, name_of(cell), NS)
        if kind == "tm.BoundaryBox":
            continue
        if kind == "tm.Boundary":
            report.lossy(
                element.source,
                "a curve boundary is a line across flows, not an area; not imported as a boundary "
                "(draw a boundary box in Threat Dragon, or add the boundary to the model)",
            )
            model.keep(f"boundaryLine.{slug(cid)[:60]}", one_line(info.get("name")) or "unnamed")
            continue
        if kind in KINDS:
            new_id = ids.of("cell", cid)
            element.set_id(new_id, cid)
            element.set("title", one_line(info.get("name")) or new_id)
            element.set("kind", KINDS[kind])
            box = _box(cell)
            holder = _smallest(box, boxes) if box is not None else None
            if holder is not None:
                element.set("boundary", ids.of("cell", holder))
            target = components
        elif kind == "tm.Flow":
            source = as_text(as_dict(cell.get("source")).get("cell"))
            destination = as_text(as_dict(cell.get("target")).get("cell"))
            if source not in component_cells or destination not in component_cells:
                report.lossy(element.source, "flow not connected to two elements; not imported")
                continue
            new_id = ids.make("cell", cid, as_text(info.get("name")) or "flow")
            element.set_id(new_id, cid)
            element.set("title", one_line(info.get("name")) or None)
            element.set("source", ids.of("cell", source))
            element.set("destination", ids.of("cell", destination))
            element.set("protocol", one_line(info.get("protocol")) or None)
            target = flows
        else:
            report.lossy(
                element.source,
                f"a {one_line(kind, 40) or 'shape'} has no place in tm-docs; not imported",
            )
            continue
        element.set("description", text_block(info.get("description")))
        element.keep("diagram", one_line(diagram.get("title")))
        if info.get("outOfScope") is True:
            reason = text_block(info.get("reasonOutOfScope"))
            if not reason:
                reason = "Marked out of scope in Threat Dragon without a reason."
                element.invent("out-of-scope reason: none given")
            element.set("out_of_scope", {"reason": reason})
        for key, value in info.items():
            if key in IGNORED:
                continue
            field = FLAG_FIELDS.get((kind, key))
            if value is True and field:
                element.set(field, True)
            elif value is True or (value not in (False, None, "") and not isinstance(value, bool)):
                element.keep(key, value)
        asset = _facts(report, ids, kind, info, element)
        if asset is not None:
            assets.append(asset)
            report.count("assets")
        target.append(element)
        report.count("components" if target is components else "flows")
        for raw in as_list(info.get("threats")):
            threat_data = as_dict(raw)
            threats.append(_threat(report, ids, threat_data, element, owner, mitigations))
    out = model.build()
    out["format_version"] = 1
    out["boundaries"] = [e.build() for _, e in boundaries]
    out["components"] = [e.build() for e in components]
    out["flows"] = [e.build() for e in flows]
    out["assets"] = [e.build() for e in assets]
    out["threats"] = [e.build() for e in threats]
    out["mitigations"] = [e.build() for e in mitigations]
    return out, report


def _facts(
    report: Lossy, ids: Ids, kind: str, info: dict[str, Any], element: Element
) -> Element | None:
    """Facts Threat Dragon's properties state, beyond the flags with a field of their own.

    Returns the asset a store that holds credentials gets (its classification is invented).
    """
    if kind == "tm.Flow" and "encrypted" not in element.data:
        encrypted = protocol_encryption(as_text(info.get("protocol")))
        if encrypted is not None:
            element.set("encrypted", encrypted)
    if kind == "tm.Process" and info.get("isWebApplication") is True:
        element.set("technology", "web application")
    if kind != "tm.Store" or info.get("storesCredentials") is not True:
        return None
    store = as_text(element.data.get("id"))
    asset = Element(report, f"credentials stored in {element.source}", NS)
    asset.set("id", ids.make("asset", f"{store}#credentials", f"{store}-credentials"))
    asset.set("title", one_line(f"Credentials in {element.data.get('title') or store}"))
    asset.set("kind", "secret")
    asset.set("classification", "restricted")
    asset.invent("classification 'restricted': the store is marked as storing credentials")
    asset.set("location", [store])
    return asset


def _threat(
    report: Lossy,
    ids: Ids,
    raw: dict[str, Any],
    on: Element,
    owner: str,
    mitigations: list[Element],
) -> Element:
    tid = as_text(raw.get("id"))
    title = one_line(raw.get("title")) or "Threat"
    element = Element(report, f"threat '{one_line(tid or title, 60)}' on {on.source}", NS)
    new_id = ids.make("threat", tid, title)
    element.set_id(new_id, tid)
    element.set("title", title)
    element.set("description", text_block(raw.get("description")))
    category = STRIDE_TYPES.get(as_text(raw.get("type")).strip().lower())
    if category is None:
        element.invent(
            f"category: type '{one_line(raw.get('type'), 40)}' is not STRIDE; set to 'tampering'"
        )
        element.keep("type", raw.get("type"))
        category = Stride.TAMPERING
    element.set("categories", [category.value])
    element.set("targets", [on.data["id"]])
    severity = as_text(raw.get("severity")).strip().lower()
    impact, likelihood = scales.SEVERITY_SPLIT.get(severity, (3, 3))
    element.set("impact", impact)
    element.set("likelihood", likelihood)
    element.invent(
        f"impact {impact} and likelihood {likelihood} split from severity "
        f"'{one_line(raw.get('severity'), 20) or 'none'}'"
    )
    element.keep("severity", raw.get("severity"))
    status_text = as_text(raw.get("status")).strip().lower()
    status = STATUSES.get(status_text)
    if status is None:
        element.lossy(f"status '{one_line(status_text, 20)}' unknown; read as open")
        status = "open"
    element.set("status", status)
    if status == "false_positive":
        element.set("reason", "Marked not applicable in Threat Dragon.")
        element.invent("reason for 'not applicable'")
    for key in ("score", "modelType", "number"):
        element.keep(key, raw.get(key))
    text = text_block(raw.get("mitigation"))
    if text:
        mitigation = Element(report, f"mitigation of {element.source}", NS)
        mitigation.set("id", ids.make("mitigation", f"{tid}-mitigation", f"{new_id}-m"))
        mitigation.set("title", one_line(text.splitlines()[0], 200))
        mitigation.set("description", text)
        mitigation.set("owner", owner)
        mitigation.invent(f"owner: Threat Dragon has none; set to the model owner '{owner}'")
        done = status == "mitigated"
        mitigation.set("status", "done" if done else "proposed")
        mitigation.invent(f"status '{'done' if done else 'proposed'}' from the threat's status")
        mitigation.set("threats", [new_id])
        element.set("mitigations", [mitigation.data["id"]])
        mitigations.append(mitigation)
        report.count("mitigations")
    report.count("threats")
    return element
