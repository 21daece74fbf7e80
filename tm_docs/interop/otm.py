"""Open Threat Model (OTM 0.2.0): import into tm-docs and export from it.

Fields OTM has no place for travel in OTM `attributes` under `tm-docs.*` keys,
and OTM values tm-docs has no field for travel in tm-docs attributes under
`otm.*` keys, so a model survives the round trip both ways.
"""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any

from ..model import (
    MODEL_ID_PATTERN,
    RESERVED_MODEL_IDS,
    AuthMethod,
    Classification,
    ClientKind,
    ComponentKind,
    DeliveryRole,
    Deployment,
    FlowKind,
    InputFormat,
    MitigationStatus,
    Stride,
    ThreatModel,
    ThreatStatus,
    TokenCheck,
    TrustLevel,
    check_control,
)
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
    read_structured,
    slug,
    text_block,
)

OTM_VERSION = "0.2.0"

# Security facts that travel as `tm-docs.*` attributes, by attribute name: booleans as
# booleans, a choice as its word, a list as its words joined by commas ("none" for an
# empty list, which says something different from a list left out).
COMPONENT_FACTS: dict[str, type[Enum] | None] = {
    "encrypted_at_rest": None,
    "audit_log": None,
    "logs_sensitive_data": None,
    "privileged": None,
    "rate_limited": None,
    "bounded_consumption": None,
    "escapes_input": None,
    "fetches_input_urls": None,
    "secrets_in_vault": None,
    "hardened": None,
    "pinned_dependencies": None,
    "delivery_role": DeliveryRole,
    "deployment": Deployment,
}
COMPONENT_LISTS: dict[str, type[Enum]] = {"accepts": InputFormat}
FLOW_FACTS: dict[str, type[Enum] | None] = {"encrypted": None, "signed": None, "kind": FlowKind}
AUTH_FACTS: dict[str, type[Enum] | None] = {
    "client": ClientKind,
    "second_factor": None,
    "on_behalf_of_user": None,
    "presents_token": None,
}
OUTSIDE_ZONE = "tm-docs-outside"  # the zone export invents for components outside every boundary

# OTM leaves states free text; these are the spellings its examples and tools use.
THREAT_STATES = {
    "exposed": ThreatStatus.OPEN,
    "open": ThreatStatus.OPEN,
    "partly-mitigated": ThreatStatus.OPEN,
    "mitigated": ThreatStatus.MITIGATED,
    "accepted": ThreatStatus.ACCEPTED,
    "transferred": ThreatStatus.TRANSFERRED,
    "not-applicable": ThreatStatus.FALSE_POSITIVE,
    "false-positive": ThreatStatus.FALSE_POSITIVE,
}
THREAT_STATE_OUT = {
    ThreatStatus.OPEN: "exposed",
    ThreatStatus.MITIGATED: "mitigated",
    ThreatStatus.ACCEPTED: "accepted",
    ThreatStatus.TRANSFERRED: "transferred",
    ThreatStatus.FALSE_POSITIVE: "not-applicable",
}
# Least advanced first: folding several per-target states keeps the first present.
THREAT_FOLD = (
    ThreatStatus.OPEN,
    ThreatStatus.MITIGATED,
    ThreatStatus.ACCEPTED,
    ThreatStatus.TRANSFERRED,
    ThreatStatus.FALSE_POSITIVE,
)
MITIGATION_STATES = {
    "required": MitigationStatus.PROPOSED,
    "recommended": MitigationStatus.PROPOSED,
    "proposed": MitigationStatus.PROPOSED,
    "planned": MitigationStatus.PLANNED,
    "in-progress": MitigationStatus.IN_PROGRESS,
    "implemented": MitigationStatus.DONE,
    "done": MitigationStatus.DONE,
}
MITIGATION_STATE_OUT = {
    MitigationStatus.PROPOSED: "required",
    MitigationStatus.PLANNED: "planned",
    MitigationStatus.IN_PROGRESS: "in-progress",
    MitigationStatus.DONE: "implemented",
}
MITIGATION_FOLD = tuple(MitigationStatus)
STRIDE_NAMES = {s.value.replace("_", ""): s for s in Stride}

# OTM component types (IriusRisk's catalogue and free words) -> kinds, by keyword.
KIND_WORDS = (
    (ComponentKind.DATA_STORE, ("database", "db", "store", "storage", "bucket", "s3", "sql")),
    (ComponentKind.QUEUE, ("queue", "topic", "kafka", "sqs", "sns", "broker", "bus")),
    (ComponentKind.EXTERNAL_ENTITY, ("client", "user", "browser", "actor", "external", "mobile")),
)


def guess_kind(type_name: str) -> ComponentKind | None:
    words = set(slug(type_name, lower=True).replace("_", "-").split("-"))
    for kind, keys in KIND_WORDS:
        if words & set(keys):
            return kind
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _keep_attributes(element: Element, attributes: Any, ours: dict[str, Any]) -> None:
    """OTM attributes: `tm-docs.*` ones fill fields back, others are kept as `otm.*`."""
    for key, value in as_dict(attributes).items():
        name = as_text(key)
        if name.startswith("tm-docs."):
            ours[name[len("tm-docs.") :]] = value
        else:
            element.keep(f"attributes.{name}" if "." in name else name, value)


def _categories(element: Element, names: list[Any]) -> list[str]:
    found: list[str] = []
    for name in names:
        key = slug(as_text(name), lower=True).replace("-", "").replace("_", "")
        category = STRIDE_NAMES.get(key)
        if category is None:
            element.lossy(f"category '{one_line(name, 60)}' is not a STRIDE category; kept")
            element.keep("categories", names)
        elif category.value not in found:
            found.append(category.value)
    return found


def import_otm(path: Path, display: str) -> tuple[dict[str, Any], Lossy]:
    data = read_structured(path, display)
    if not isinstance(data, dict) or "otmVersion" not in data:
        raise ImportFailure(f"{display}: not an OTM document (no 'otmVersion' at the top)")
    return from_otm(data)


def from_otm(data: dict[str, Any]) -> tuple[dict[str, Any], Lossy]:
    """The tm-docs model data for an OTM document, and what did not fit."""
    report = Lossy("otm")
    ids = Ids()
    project = as_dict(data.get("project"))
    version = as_text(data.get("otmVersion"))
    model = Element(report, f"project '{one_line(project.get('name'), 60)}'", "otm")
    ours: dict[str, Any] = {}
    _keep_attributes(model, project.get("attributes"), ours)
    if version != OTM_VERSION:
        model.lossy(f"otmVersion {version!r}: read as {OTM_VERSION}")
        model.keep("otmVersion", version)
    model_id = slug(as_text(project.get("id")) or as_text(project.get("name")), lower=True)
    model_id = model_id.replace("_", "-")
    if model_id in RESERVED_MODEL_IDS or not _matches(MODEL_ID_PATTERN, model_id):
        model_id = f"{model_id[:56]}-model".strip("-")
    if model_id != as_text(project.get("id")):
        model.keep("id", project.get("id"))
    model.set("id", model_id)
    model.set("title", one_line(project.get("name")) or model_id)
    model.set("description", text_block(project.get("description")))
    owner = one_line(project.get("owner"))
    if not owner:
        owner = one_line(ours.get("owner")) or "unknown"
        if not ours.get("owner"):
            model.invent("owner: OTM project has none; set to 'unknown'")
    model.set("owner", owner)
    model.keep("ownerContact", project.get("ownerContact"))
    for tag in as_list(project.get("tags")):
        model.tag(tag)
    for representation in as_list(data.get("representations")):
        rep = as_dict(representation)
        report.lossy(
            f"representation '{one_line(rep.get('id'), 60)}'",
            "diagram and code representations are not imported (tm-docs lays out its own)",
        )

    # trust zones -> boundaries
    zones = [as_dict(z) for z in as_list(data.get("trustZones"))]
    zone_ids = {as_text(z.get("id")) for z in zones}
    outside = {as_text(z.get("id")) for z in zones if as_text(z.get("id")) == OUTSIDE_ZONE}
    for zone in zones:
        zid = as_text(zone.get("id"))
        if zid in outside:
            report.count("skipped")
            continue
        ids.make("zone", zid, as_text(zone.get("name")) or "zone")
    boundaries = []
    for zone in zones:
        zid = as_text(zone.get("id"))
        if zid in outside:
            continue
        element = Element(report, f"trustZone '{one_line(zid, 60)}'", "otm")
        extra: dict[str, Any] = {}
        _keep_attributes(element, zone.get("attributes"), extra)
        new_id = ids.of("zone", zid)
        element.set_id(new_id, zid)
        element.set("title", one_line(zone.get("name")) or new_id)
        rating = _number(as_dict(zone.get("risk")).get("trustRating"))
        if rating is None:
            element.set("trust", TrustLevel.INTERNAL.value)
            element.invent("trust level: no trustRating; set to 'internal'")
        else:
            trust = scales.trust_from(rating)
            element.set("trust", trust.value)
            if scales.trust_number(trust) != rating:
                element.keep("trustRating", _plain(rating))
        parent = _parent(zone.get("parent"))
        if parent:
            kind, ref = parent
            if kind in ("trustZone", "") and ref in zone_ids and ref not in outside:
                element.set("parent", ids.of("zone", ref))
            else:
                element.lossy(f"parent '{one_line(ref, 60)}' is not a trust zone; kept")
                element.keep("parent", ref)
        element.keep("type", zone.get("type"))
        element.set("description", text_block(zone.get("description")))
        for tag in as_list(zone.get("tags")):
            element.tag(tag)
        _representations(element, zone)
        boundaries.append(element)
        report.count("boundaries")

    # components
    raw_components = [as_dict(c) for c in as_list(data.get("components"))]
    by_id = {as_text(c.get("id")): c for c in raw_components}
    for component in raw_components:
        cid = as_text(component.get("id"))
        ids.make("component", cid, as_text(component.get("name")) or "component")
    assets_raw = [as_dict(a) for a in as_list(data.get("assets"))]
    for asset in assets_raw:
        ids.make("asset", as_text(asset.get("id")), as_text(asset.get("name")) or "asset")
    stored_at: dict[str, list[str]] = {}
    components = []
    threat_instances: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for component in raw_components:
        cid = as_text(component.get("id"))
        element = Element(report, f"component '{one_line(cid, 60)}'", "otm")
        extra = {}
        _keep_attributes(element, component.get("attributes"), extra)
        new_id = ids.of("component", cid)
        element.set_id(new_id, cid)
        element.set("title", one_line(component.get("name")) or new_id)
        type_name = as_text(component.get("type"))
        kind_value = as_text(extra.get("kind"))
        if kind_value in {k.value for k in ComponentKind}:
            element.set("kind", kind_value)
        elif type_name in {k.value for k in ComponentKind}:
            element.set("kind", type_name)
        else:
            guessed = guess_kind(type_name)
            element.set("kind", (guessed or ComponentKind.PROCESS).value)
            element.invent(
                f"kind: '{(guessed or ComponentKind.PROCESS).value}' guessed from type "
                f"'{one_line(type_name, 60)}'"
            )
        if type_name and type_name != element.data["kind"]:
            element.keep("type", type_name)
        zone_ref = _zone_of(component, by_id, zone_ids, element)
        if zone_ref and zone_ref not in outside:
            element.set("boundary", ids.of("zone", zone_ref))
        element.set("owner", one_line(extra.get("owner")) or None)
        element.set("technology", one_line(extra.get("technology")) or None)
        for name, choices in COMPONENT_FACTS.items():
            element.set(name, _fact_in(element, name, extra.get(name), choices))
        for name, choices in COMPONENT_LISTS.items():
            element.set(name, _fact_in(element, name, extra.get(name), choices, is_list=True))
        element.set("description", text_block(component.get("description")))
        instance = as_dict(component.get("assets"))
        processed = [as_text(a) for a in as_list(instance.get("processed"))]
        stored = [as_text(a) for a in as_list(instance.get("stored"))]
        data_ids = []
        for ref in processed + stored:
            asset_id = ids.get("asset", ref)
            if asset_id is None:
                element.lossy(f"asset '{one_line(ref, 60)}' does not exist; dropped reference")
            elif asset_id not in data_ids:
                data_ids.append(asset_id)
        for ref in stored:
            if ids.get("asset", ref):
                stored_at.setdefault(ref, []).append(new_id)
        element.set("data", data_ids)
        for tag in as_list(component.get("tags")):
            element.tag(tag)
        _representations(element, component)
        for item in as_list(component.get("threats")):
            threat_instances.setdefault(as_text(as_dict(item).get("threat")), []).append(
                (new_id, as_dict(item))
            )
        components.append(element)
        report.count("components")

    # assets
    assets = []
    for asset in assets_raw:
        aid = as_text(asset.get("id"))
        element = Element(report, f"asset '{one_line(aid, 60)}'", "otm")
        extra = {}
        _keep_attributes(element, asset.get("attributes"), extra)
        new_id = ids.of("asset", aid)
        element.set_id(new_id, aid)
        element.set("title", one_line(asset.get("name")) or new_id)
        kind = as_text(extra.get("kind"))
        if kind:
            element.set("kind", kind)
        else:
            element.set("kind", "data_set")
            element.invent("asset kind: OTM has none; set to 'data_set'")
        risk = as_dict(asset.get("risk"))
        for field, key in (
            ("classification", "confidentiality"),
            ("integrity", "integrity"),
            ("availability", "availability"),
        ):
            number = _number(risk.get(key))
            if number is None:
                if field == "classification":
                    element.set(field, Classification.CONFIDENTIAL.value)
                    element.invent("classification: no confidentiality; set to 'confidential'")
                continue
            value = scales.classification_from(number)
            element.set(field, value.value)
            if scales.classification_number(value) != number:
                element.keep(key, _plain(number))
        element.keep("riskComment", risk.get("comment"))
        element.set("description", text_block(asset.get("description")))
        element.set("location", stored_at.get(aid, []))
        for tag in as_list(asset.get("tags")):
            element.tag(tag)
        assets.append(element)
        report.count("assets")

    # data flows
    flows = []
    for raw in as_list(data.get("dataflows")):
        flow = as_dict(raw)
        fid = as_text(flow.get("id"))
        element = Element(report, f"dataflow '{one_line(fid, 60)}'", "otm")
        extra = {}
        _keep_attributes(element, flow.get("attributes"), extra)
        source = as_text(flow.get("source"))
        # The README writes `target`, the 0.2.0 schema `destination`: accept both.
        destination = as_text(flow.get("destination") or flow.get("target"))
        ends = [ids.get("component", source), ids.get("component", destination)]
        if None in ends:
            report.lossy(
                element.source,
                f"source '{one_line(source, 60)}' or destination "
                f"'{one_line(destination, 60)}' is not a component; the flow is not imported",
            )
            continue
        new_id = ids.make("flow", fid, as_text(flow.get("name")) or "flow")
        element.set_id(new_id, fid)
        element.set("title", one_line(flow.get("name")) or None)
        element.set("source", ends[0])
        element.set("destination", ends[1])
        data_ids = []
        for ref in as_list(flow.get("assets")):
            asset_id = ids.get("asset", as_text(ref))
            if asset_id is None:
                element.lossy(f"asset '{one_line(ref, 60)}' does not exist; dropped reference")
            else:
                data_ids.append(asset_id)
        element.set("data", data_ids)
        element.set("protocol", one_line(extra.get("protocol")) or None)
        for name, choices in FLOW_FACTS.items():
            element.set(name, _fact_in(element, name, extra.get(name), choices))
        method = _fact_in(element, "authentication", extra.get("authentication"), AuthMethod)
        if method is not None:
            auth: dict[str, Any] = {"method": method}
            for name, choices in AUTH_FACTS.items():
                key = f"authentication.{name}"
                auth[name] = _fact_in(element, key, extra.get(key), choices)
            auth["checks"] = _fact_in(
                element,
                "authentication.checks",
                extra.get("authentication.checks"),
                TokenCheck,
                True,
            )
            auth["identity"] = one_line(extra.get("authentication.identity")) or None
            element.set("authentication", {k: v for k, v in auth.items() if v is not None})
        delivers = as_text(extra.get("delivers"))
        if delivers and delivers != "none":
            found = [ids.get("asset", a) for a in delivers.split(",")]
            element.set("delivers", [a for a in found if a is not None and a in data_ids])
        if flow.get("bidirectional") is True:
            element.set("bidirectional", True)
        element.set("description", text_block(flow.get("description")))
        for tag in as_list(flow.get("tags")):
            element.tag(tag)
        for item in as_list(flow.get("threats")):
            threat_instances.setdefault(as_text(as_dict(item).get("threat")), []).append(
                (new_id, as_dict(item))
            )
        flows.append(element)
        report.count("flows")

    # mitigations first get ids, threats then fold their per-target states
    raw_mitigations = [as_dict(m) for m in as_list(data.get("mitigations"))]
    for mitigation in raw_mitigations:
        ids.make("mitigation", as_text(mitigation.get("id")), "mitigation")
    raw_threats = [as_dict(t) for t in as_list(data.get("threats"))]
    for threat in raw_threats:
        ids.make("threat", as_text(threat.get("id")), "threat")
    mitigation_states: dict[str, list[tuple[str, str, str]]] = {}  # id -> (threat, target, state)
    threats = []
    for threat in raw_threats:
        tid = as_text(threat.get("id"))
        element = Element(report, f"threat '{one_line(tid, 60)}'", "otm")
        extra = {}
        _keep_attributes(element, threat.get("attributes"), extra)
        new_id = ids.of("threat", tid)
        element.set_id(new_id, tid)
        element.set("title", one_line(threat.get("name")) or new_id)
        element.set("description", text_block(threat.get("description")))
        categories = _categories(element, as_list(threat.get("categories")))
        if not categories:
            categories = [Stride.TAMPERING.value]
            element.invent("categories: none given; set to 'tampering'")
        element.set("categories", categories)
        instances = threat_instances.get(tid, [])
        targets = [target for target, _ in instances]
        targets += [
            a for a in as_text(extra.get("assetTargets")).split(",") if a and a in ids.taken
        ]
        if not targets:
            report.lossy(
                element.source, "applies to no component or dataflow; the threat is not imported"
            )
            continue
        element.set("targets", list(dict.fromkeys(targets)))
        risk = as_dict(threat.get("risk"))
        for field in ("impact", "likelihood"):
            number = _number(risk.get(field))
            if number is None:
                element.set(field, 3)
                element.invent(f"{field}: none given; set to 3")
                continue
            score = scales.score_from(number)
            element.set(field, score)
            if scales.score_number(score) != number:
                element.keep(field, _plain(number))
            element.keep(f"{field}Comment", risk.get(f"{field}Comment"))
        states = []
        for target, instance in instances:
            state = as_text(instance.get("state")).lower()
            status = THREAT_STATES.get(state)
            if status is None:
                element.lossy(f"state '{one_line(state, 40)}' on {target} is unknown; read as open")
                status = ThreatStatus.OPEN
            states.append((target, state, status))
            for m in as_list(instance.get("mitigations")):
                mref = as_text(as_dict(m).get("mitigation"))
                mstate = as_text(as_dict(m).get("state")).lower()
                mitigation_states.setdefault(mref, []).append((new_id, target, mstate))
        folded = next(s for s in THREAT_FOLD if s in {st for _, _, st in states})
        element.set("status", folded.value)
        if len({st for _, st, _ in states}) > 1:
            element.lossy(f"per-target states folded into '{folded.value}'")
        if len({st for _, st, _ in states}) > 1 or any(
            st != THREAT_STATE_OUT[folded] for _, st, _ in states
        ):
            for target, state, _ in states:
                element.keep(f"state.{target}", state)
        if folded.value in ("accepted", "transferred", "false_positive"):
            reason = text_block(extra.get("reason"))
            if not reason:
                reason = "Imported from OTM without a reason; review."
                element.invent(f"reason for status '{folded.value}'")
            element.set("reason", reason)
        references = []
        for cwe in as_list(threat.get("cwes")):
            text = as_text(cwe).strip().upper()
            if text.startswith("CWE-") and text[4:].isdigit() and len(text) <= 9:
                references.append(text)
            else:
                element.lossy(f"cwe '{one_line(cwe, 40)}' is not a CWE id; kept")
                element.keep("cwes", threat.get("cwes"))
        element.set("references", references)
        for tag in as_list(threat.get("tags")):
            element.tag(tag)
        threats.append(element)
        report.count("threats")
    threat_ids = {t.data["id"] for t in threats}

    mitigations = []
    for mitigation in raw_mitigations:
        mid = as_text(mitigation.get("id"))
        element = Element(report, f"mitigation '{one_line(mid, 60)}'", "otm")
        extra = {}
        _keep_attributes(element, mitigation.get("attributes"), extra)
        new_id = ids.of("mitigation", mid)
        element.set_id(new_id, mid)
        element.set("title", one_line(mitigation.get("name")) or new_id)
        element.set("description", text_block(mitigation.get("description")))
        owner = one_line(extra.get("owner"))
        if not owner:
            owner = model.data["owner"]
            element.invent(f"owner: OTM has none; set to the project owner '{owner}'")
        element.set("owner", owner)
        m_states = mitigation_states.get(mid, [])
        status_of = []
        for _threat, target, state in m_states:
            m_status = MITIGATION_STATES.get(state)
            if m_status is None:
                element.lossy(
                    f"state '{one_line(state, 40)}' on {target} is unknown; read as proposed"
                )
                m_status = MitigationStatus.PROPOSED
            status_of.append(m_status)
        if status_of:
            folded_m = next(s for s in MITIGATION_FOLD if s in status_of)
            element.set("status", folded_m.value)
            if len(set(status_of)) > 1:
                element.lossy(f"per-target states folded into '{folded_m.value}'")
            if len({s for _, _, s in m_states}) > 1 or any(
                s != MITIGATION_STATE_OUT[folded_m] for _, _, s in m_states
            ):
                for threat_id, target, state in m_states:
                    element.keep(f"state.{threat_id}.{target}", state)
        for key in ("sprint", "ticket"):
            element.set(key, one_line(extra.get(key)) or None)
        element.set("threats", sorted({t for t, _, _ in m_states if t in threat_ids}))
        reduction = _number(mitigation.get("riskReduction"))
        if extra.get("risk_reduction_unset") and reduction == 0:
            reduction = None  # written by tm-docs' export for a mitigation without one
        if reduction is not None:
            if reduction == int(reduction) and 0 <= reduction <= 100:
                element.set("risk_reduction", int(reduction))
            else:
                element.lossy(f"riskReduction {reduction} is not a whole number 0-100; kept")
                element.keep("riskReduction", _plain(reduction))
        controls = []
        for control in (as_text(extra.get("controls")) or "").split():
            try:
                controls.append(check_control(control))
            except ValueError as exc:
                element.lossy(f"control {one_line(str(exc), 120)}; kept")
                element.keep("controls", extra.get("controls"))
        element.set("controls", list(dict.fromkeys(controls)))
        mitigations.append(element)
        report.count("mitigations")
    # threats list their mitigations (tm-docs keeps both directions consistent)
    for threat_element in threats:
        tid = threat_element.data["id"]
        threat_element.set(
            "mitigations", [m.data["id"] for m in mitigations if tid in m.data.get("threats", [])]
        )

    out = model.build()
    out["format_version"] = 1
    out["boundaries"] = [b.build() for b in boundaries]
    out["components"] = [c.build() for c in components]
    out["flows"] = [f.build() for f in flows]
    out["assets"] = [a.build() for a in assets]
    out["threats"] = [t.build() for t in threats]
    out["mitigations"] = [m.build() for m in mitigations]
    return out, report


def _matches(pattern: str, value: str) -> bool:
    return re.match(pattern, value) is not None


def _plain(number: float) -> str:
    return str(int(number)) if number == int(number) else str(number)


def _parent(value: Any) -> tuple[str, str] | None:
    """`{trustZone: id}` or `{component: id}` (the schema), or a bare id (the README)."""
    if isinstance(value, dict):
        for kind in ("trustZone", "component"):
            if value.get(kind):
                return kind, as_text(value[kind])
        return None
    if isinstance(value, str) and value:
        return "", value
    return None


def _zone_of(
    component: dict[str, Any],
    by_id: dict[str, dict[str, Any]],
    zone_ids: set[str],
    element: Element,
) -> str | None:
    """The trust zone a component is in, following component parents upwards."""
    seen: set[str] = set()
    current = component
    for _ in range(len(by_id) + 1):
        parent = _parent(current.get("parent"))
        if parent is None:
            return None
        kind, ref = parent
        if kind in ("trustZone", "") and ref in zone_ids:
            return ref
        if kind in ("component", "") and ref in by_id and ref not in seen:
            if current is component:
                element.lossy(f"nested in component '{one_line(ref, 60)}'; kept as attribute")
                element.keep("parent.component", ref)
            seen.add(ref)
            current = by_id[ref]
            continue
        element.lossy(f"parent '{one_line(ref, 60)}' does not exist; placed outside every boundary")
        return None
    return None


def _representations(element: Element, raw: dict[str, Any]) -> None:
    if as_list(raw.get("representations")):
        element.lossy("diagram positions (representations) are not imported")


# --- export -----------------------------------------------------------------


def _fact_out(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        words = [v.value if isinstance(v, Enum) else str(v) for v in value]
        return ",".join(words) or "none"
    return value


def _fact_in(
    element: Element, name: str, value: Any, choices: type[Enum] | None, is_list: bool = False
) -> Any:
    """A fact read back from a `tm-docs.*` attribute; None (and reported) if it is not one."""
    if value is None:
        return None
    if is_list and isinstance(value, str) and choices is not None:
        words = [] if value == "none" else [w.strip() for w in value.split(",")]
        allowed = {c.value for c in choices}
        if all(w in allowed for w in words):
            return words
    elif choices is None and isinstance(value, bool):
        return value
    elif choices is not None and isinstance(value, str) and value in {c.value for c in choices}:
        return value
    element.lossy(f"tm-docs.{name} '{one_line(value, 40)}' is not a value of the fact; dropped")
    return None


def _attributes(element: Any, extra: dict[str, Any]) -> dict[str, Any] | None:
    out: dict[str, Any] = {}
    for key, value in element.attributes.items():
        if key.startswith("otm.attributes."):
            out[key[len("otm.attributes.") :]] = value
        elif key.startswith("otm."):
            continue  # OTM's own values, written back where they belong
        else:
            out[key] = value
    for key, value in extra.items():
        if value not in (None, "", []):
            out[f"tm-docs.{key}"] = value
    return out or None


def _original(element: Any, fallback: str) -> str:
    return str(element.attributes.get("otm.id", fallback))


def _kept_number(element: Any, key: str, current: int, convert: Any) -> float:
    """The original OTM number while it still maps to the current value."""
    text = element.attributes.get(f"otm.{key}")
    if text is not None:
        try:
            number = float(text)
        except ValueError:
            return current
        if convert(number) == convert(current):
            return int(number) if number == int(number) else number
    return current


def _folds(states: list[str | None], table: dict[str, Any], order: tuple[Any, ...]) -> Any:
    """The folded status of kept per-target states, or None when any is missing or unknown."""
    found = [table.get(s) if s is not None else None for s in states]
    if not found or None in found:
        return None
    return next(status for status in order if status in found)


def to_otm(model: ThreatModel) -> dict[str, Any]:
    zone_of = {b.id: _original(b, b.id) for b in model.boundaries}
    component_of = {c.id: _original(c, c.id) for c in model.components}
    project: dict[str, Any] = {
        "name": model.title,
        "id": str(model.attributes.get("otm.id", model.id)),
        "description": model.description or None,
        "owner": model.owner,
    }
    if "otm.ownerContact" in model.attributes:
        project["ownerContact"] = model.attributes["otm.ownerContact"]
    if model.tags:
        project["tags"] = list(model.tags)
    project["attributes"] = _attributes(model, {})
    zones = []
    for b in model.boundaries:
        zone: dict[str, Any] = {
            "id": zone_of[b.id],
            "name": b.title,
            "type": b.attributes.get("otm.type", b.trust.value),
            "description": b.description or None,
            "risk": {
                "trustRating": _kept_number(
                    b, "trustRating", scales.trust_number(b.trust), scales.trust_from
                )
            },
        }
        if b.parent:
            zone["parent"] = {"trustZone": zone_of[b.parent]}
        zone["attributes"] = _attributes(b, {"trust": b.trust.value, "tags": ",".join(b.tags)})
        zones.append(zone)
    if any(c.boundary is None for c in model.components):
        zones.append(
            {
                "id": OUTSIDE_ZONE,
                "name": "Outside every boundary",
                "type": "internet",
                "risk": {"trustRating": 0},
                "attributes": {"tm-docs.synthetic": "components outside every trust boundary"},
            }
        )
    # Kept per-target states are written back only while they still fold to the status.
    threat_kept = {
        t.id: _folds(
            [t.attributes.get(f"otm.state.{x}") for x in t.targets], THREAT_STATES, THREAT_FOLD
        )
        == t.status
        for t in model.threats
    }
    kept = {
        m.id: _folds(
            [v for k, v in m.attributes.items() if k.startswith("otm.state.")],
            MITIGATION_STATES,
            MITIGATION_FOLD,
        )
        == m.status
        for m in model.mitigations
    }
    instances: dict[str, list[dict[str, Any]]] = {}
    for t in model.threats:
        for target in t.targets:
            state = t.attributes.get(f"otm.state.{target}") if threat_kept[t.id] else None
            state = state or THREAT_STATE_OUT[t.status]
            applied: list[dict[str, str]] = []
            for m in model.mitigations:
                if m.id not in t.mitigations and t.id not in m.threats:
                    continue
                m_state = m.attributes.get(f"otm.state.{t.id}.{target}") if kept[m.id] else None
                m_state = m_state or MITIGATION_STATE_OUT[m.status]
                applied.append({"mitigation": _original(m, m.id), "state": m_state})
            instance = {"threat": _original(t, t.id), "state": state, "mitigations": applied}
            instances.setdefault(target, []).append(instance)
    assets_stored = {
        c.id: [a.id for a in model.assets if c.id in a.location] for c in model.components
    }
    asset_of = {a.id: _original(a, a.id) for a in model.assets}
    components = []
    for c in model.components:
        entry: dict[str, Any] = {
            "id": component_of[c.id],
            "name": c.title,
            "type": c.attributes.get("otm.type", c.kind.value),
            "description": c.description or None,
            "parent": (
                {"component": c.attributes["otm.parent.component"]}
                if "otm.parent.component" in c.attributes
                else {"trustZone": zone_of[c.boundary] if c.boundary else OUTSIDE_ZONE}
            ),
            "tags": list(c.tags) or None,
        }
        if c.data or assets_stored[c.id]:
            entry["assets"] = {
                "processed": [asset_of[a] for a in c.data],
                "stored": [asset_of[a] for a in assets_stored[c.id]],
            }
        if c.id in instances:
            entry["threats"] = instances[c.id]
        facts: dict[str, Any] = {"owner": c.owner, "technology": c.technology}
        facts.update({name: _fact_out(getattr(c, name)) for name in COMPONENT_FACTS})
        facts.update({name: _fact_out(getattr(c, name)) for name in COMPONENT_LISTS})
        facts["kind"] = c.kind.value
        facts["paths"] = ",".join(c.paths)
        if c.out_of_scope:
            facts["out_of_scope"] = c.out_of_scope.reason
        entry["attributes"] = _attributes(c, facts)
        components.append(entry)
    flows = []
    for f in model.flows:
        entry = {
            "id": _original(f, f.id),
            "name": f.title or f.id,
            "description": f.description or None,
            "bidirectional": f.bidirectional,
            "source": component_of[f.source],
            "destination": component_of[f.destination],
            "assets": [asset_of[a] for a in f.data] or None,
            "tags": list(f.tags) or None,
        }
        if f.id in instances:
            entry["threats"] = instances[f.id]
        facts = {
            "protocol": f.protocol,
            "encrypted": f.encrypted,
            "signed": f.signed,
            "kind": f.kind.value,
            "authentication": f.authentication.method.value if f.authentication else None,
            "title": f.title,
            "delivers": _fact_out([asset_of[a] for a in f.delivers] or None),
        }
        if f.authentication:
            auth = f.authentication
            facts.update(
                {f"authentication.{name}": _fact_out(getattr(auth, name)) for name in AUTH_FACTS}
            )
            facts["authentication.checks"] = _fact_out(auth.checks)
            facts["authentication.identity"] = auth.identity
        if f.out_of_scope:
            facts["out_of_scope"] = f.out_of_scope.reason
        entry["attributes"] = _attributes(f, facts)
        flows.append(entry)
    assets = []
    for a in model.assets:
        risk: dict[str, Any] = {
            "confidentiality": _kept_number(
                a,
                "confidentiality",
                scales.classification_number(a.classification),
                scales.classification_from,
            ),
            "integrity": 0,
            "availability": 0,
        }
        for field in ("integrity", "availability"):
            value = getattr(a, field)
            if value is not None:
                risk[field] = _kept_number(
                    a, field, scales.classification_number(value), scales.classification_from
                )
        if "otm.riskComment" in a.attributes:
            risk["comment"] = a.attributes["otm.riskComment"]
        facts = {"kind": a.kind.value}
        if a.out_of_scope:
            facts["out_of_scope"] = a.out_of_scope.reason
        assets.append(
            {
                "id": asset_of[a.id],
                "name": a.title,
                "description": a.description or None,
                "risk": risk,
                "attributes": _attributes(a, facts),
            }
        )
    threats = []
    for t in model.threats:
        risk_out: dict[str, Any] = {
            "likelihood": _kept_number(
                t, "likelihood", scales.score_number(t.likelihood), scales.score_from
            ),
            "impact": _kept_number(t, "impact", scales.score_number(t.impact), scales.score_from),
        }
        for key in ("likelihoodComment", "impactComment"):
            if f"otm.{key}" in t.attributes:
                risk_out[key] = t.attributes[f"otm.{key}"]
        asset_targets = [x for x in t.targets if x in asset_of]
        threats.append(
            {
                "id": _original(t, t.id),
                "name": t.title,
                "description": t.description or None,
                "categories": [c.label for c in t.categories],
                "cwes": [r for r in t.references if r.startswith("CWE-")] or None,
                "risk": risk_out,
                "tags": list(t.tags) or None,
                "attributes": _attributes(
                    t,
                    {
                        "reason": t.reason,
                        "assetTargets": ",".join(asset_targets),
                        "references": ",".join(r for r in t.references if not r.startswith("CWE-")),
                        "from_suggestion": t.from_suggestion,
                    },
                ),
            }
        )
    mitigations = []
    for m in model.mitigations:
        mitigations.append(
            {
                "id": _original(m, m.id),
                "name": m.title,
                "description": m.description or None,
                "riskReduction": m.risk_reduction if m.risk_reduction is not None else 0,
                "attributes": _attributes(
                    m,
                    {
                        "owner": m.owner,
                        "status": m.status.value,
                        "sprint": m.sprint,
                        "ticket": m.ticket,
                        "risk_reduction_unset": "true" if m.risk_reduction is None else None,
                        "controls": " ".join(m.controls) or None,
                    },
                ),
            }
        )
    return {
        "otmVersion": OTM_VERSION,
        "project": project,
        "assets": assets,
        "components": components,
        "dataflows": flows,
        "trustZones": zones,
        "threats": threats,
        "mitigations": mitigations,
    }
