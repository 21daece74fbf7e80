"""Threagile models (YAML) into tm-docs.

Threagile's enumerations are finer than tm-docs' scales in places; the mapping
is fixed below, and the original value is kept as a `threagile.*` attribute
whenever two Threagile values share one tm-docs value.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..model import Stride
from .common import (
    Element,
    Ids,
    ImportFailure,
    Lossy,
    as_dict,
    as_list,
    as_text,
    one_line,
    read_yaml,
    slug,
    text_block,
)

NS = "threagile"
CONFIDENTIALITY = {
    "public": "public",
    "internal": "internal",
    "restricted": "confidential",
    "confidential": "confidential",
    "strictly-confidential": "restricted",
}
CRITICALITY = {
    "archive": "public",
    "operational": "internal",
    "important": "confidential",
    "critical": "restricted",
    "mission-critical": "restricted",
}
KINDS = {"external-entity": "external_entity", "process": "process", "datastore": "data_store"}
AUTH = {
    "none": "none",
    "credentials": "basic",
    "session-id": "session",
    "token": "other",
    "client-certificate": "mtls",
    "two-factor": "other",
}
# Threagile's protocols that state whether the channel is encrypted (pkg/types/protocol.go):
# the plain ones have an `-encrypted` twin or are cleartext by design. MQTT ("encryption
# via TLS is optional"), JMS, NRPE, XMPP, the process-local ones (library calls, local
# files) and unknown ones say nothing.
PLAIN = {
    "http", "ws", "reverse-proxy-web-protocol", "jdbc", "odbc", "sql-access-protocol",
    "nosql-access-protocol", "binary", "text", "smtp", "pop3", "imap", "ftp", "ldap", "nfs",
    "smb", "iiop", "jrmp", "telnet",
}  # fmt: skip
ENCRYPTED = {"https", "wss", "ldaps", "sftp", "scp", "ssh", "ssh-tunnel", "ftps"}
# How the end user's identity reaches the target (a link's `authorization`).
ON_BEHALF = {
    "enduser-identity-propagation": True,
    "end-user-identity-propagation": True,
    "technical-user": False,
    "none": False,
}
# Technologies (with Threagile's aliases) that are a part in delivering software.
DELIVERY = {
    "build-pipeline": "build_server",
    "ci": "build_server",
    "continuous-integration": "build_server",
    "sourcecode-repository": "source_repository",
    "git": "source_repository",
    "artifact-registry": "artifact_registry",
}
# Technologies Threagile counts as development-relevant; a build pipeline's write access
# to anything else is a deployment into it.
DEVELOPMENT = {
    *DELIVERY, "code-inspection-platform", "code-inspection", "code-analysis", "devops-client",
}  # fmt: skip
VAULTS = {"vault", "hashicorp-vault"}
FORMATS = {
    "json": "json",
    "xml": "xml",
    "serialization": "serialized_objects",
    "file": "files",
    "csv": "text",
}
# Threagile's trust-boundary types; tm-docs' trust level is invented from them.
TRUST = {"execution-environment": "restricted"}
IMPACT = {"low": 2, "medium": 3, "high": 4, "very-high": 5}
LIKELIHOOD = {"unlikely": 2, "likely": 3, "very-likely": 4, "frequent": 5}
TRACKING = {
    "unchecked": "open",
    "in-discussion": "open",
    "in-progress": "open",
    "accepted": "accepted",
    "mitigated": "mitigated",
    "false-positive": "false_positive",
}
MAPPED_ASSET_KEYS = {"id", "description", "tags", "confidentiality", "integrity", "availability"}
MAPPED_COMPONENT_KEYS = {
    "id", "description", "type", "technology", "owner", "tags", "out_of_scope",
    "justification_out_of_scope", "encryption", "data_assets_processed", "data_assets_stored",
    "communication_links", "data_formats_accepted",
}  # fmt: skip
MAPPED_LINK_KEYS = {
    "target", "description", "protocol", "authentication", "tags", "data_assets_sent",
    "data_assets_received", "authorization",
}  # fmt: skip
MODEL_KEYS = {
    "title", "author", "business_overview", "technical_overview", "data_assets",
    "technical_assets", "trust_boundaries", "shared_runtimes", "individual_risk_categories",
    "risk_tracking", "tags_available",
}  # fmt: skip
_TAGS = re.compile(r"<[^>]*>")


def import_threagile(path: Path, display: str) -> tuple[dict[str, Any], Lossy]:
    data = read_yaml(path, display)
    if not isinstance(data, dict) or "technical_assets" not in data:
        raise ImportFailure(f"{display}: not a Threagile model (no 'technical_assets')")
    return from_threagile(data)


def _scale(element: Element, key: str, value: Any, table: dict[str, str]) -> str | None:
    text = as_text(value).strip().lower()
    if not text:
        return None
    mapped = table.get(text)
    if mapped is None:
        element.lossy(f"{key} '{one_line(text, 40)}' is not a Threagile value; kept")
    if mapped is None or list(table.values()).count(mapped) > 1:
        element.keep(key, text)
    return mapped


def _technologies(raw: dict[str, Any]) -> list[str]:
    """Its `technology` and the `technologies` list newer Threagile versions also read."""
    names = [raw.get("technology"), *as_list(raw.get("technologies"))]
    return [t for t in (as_text(n).strip().lower() for n in names) if t]


def _role(raw: dict[str, Any]) -> str | None:
    return next((DELIVERY[t] for t in _technologies(raw) if t in DELIVERY), None)


def _delivery_facts(raw_components: dict[str, dict[str, Any]]) -> tuple[set[str], set[str]]:
    """Ids of deploy targets and of the assets that call a vault.

    A deploy target is what a build pipeline writes to over a devops link (not read-only)
    and is not itself part of delivery: the reading of Threagile's own
    push-instead-of-pull-deployment rule, so the pipeline pushes to it.
    """
    by_id = {as_text(r.get("id")) or name: r for name, r in raw_components.items()}
    targets: set[str] = set()
    vault_users: set[str] = set()
    for cid, raw in by_id.items():
        for raw_link in as_dict(raw.get("communication_links")).values():
            link = as_dict(raw_link)
            target_id = as_text(link.get("target"))
            target = by_id.get(target_id)
            if target is None:
                continue
            if set(_technologies(target)) & VAULTS:
                vault_users.add(cid)
            if (
                _role(raw) == "build_server"
                and link.get("readonly") is not True
                and as_text(link.get("usage")).strip().lower() == "devops"
                and target.get("out_of_scope") is not True
                and not set(_technologies(target)) & DEVELOPMENT
                and as_text(target.get("usage")).strip().lower() != "devops"
            ):
                targets.add(target_id)
    return targets, vault_users


def _link_authentication(
    flow: Element, link: dict[str, Any], source: dict[str, Any]
) -> dict[str, Any] | None:
    """The flow's authentication: method, who the client is, second factor, identity."""
    authorization = as_text(link.get("authorization")).strip().lower()
    if authorization:
        flow.keep("authorization", authorization)
    method = _scale(flow, "authentication", link.get("authentication"), AUTH)
    if not method:
        return None
    auth: dict[str, Any] = {"method": method}
    human = source.get("used_as_client_by_human")
    if human is True:
        auth["client"] = "human"
    elif human is False:
        auth["client"] = "service"
    given = as_text(link.get("authentication")).strip().lower()
    if given == "two-factor":
        auth["second_factor"] = True
    elif human is True and given in AUTH:
        auth["second_factor"] = False
    on_behalf = ON_BEHALF.get(authorization)
    if on_behalf is not None:
        auth["on_behalf_of_user"] = on_behalf
    elif authorization:
        flow.lossy(f"authorization '{one_line(authorization, 40)}' is not a Threagile value; kept")
    return auth


def _accepts(element: Element, raw: dict[str, Any]) -> None:
    formats: list[str] = []
    for value in as_list(raw.get("data_formats_accepted")):
        text = as_text(value).strip().lower()
        mapped = FORMATS.get(text)
        if mapped is None:
            element.lossy(f"data format '{one_line(text, 40)}' has no tm-docs value; kept")
        if mapped is None or text == "csv":
            element.keep(f"data_formats_accepted.{slug(text)[:40]}", "true")
        if mapped is not None and mapped not in formats:
            formats.append(mapped)
    element.set("accepts", formats)


def from_threagile(data: dict[str, Any]) -> tuple[dict[str, Any], Lossy]:
    report = Lossy("threagile")
    ids = Ids()
    title = one_line(data.get("title")) or "Imported model"
    model = Element(report, f"model '{one_line(title, 60)}'", NS)
    model.set("id", slug(title, lower=True).replace("_", "-"))
    model.set("title", title)
    parts = []
    for key in ("business_overview", "technical_overview"):
        overview = as_dict(data.get(key))
        if overview.get("description"):
            parts.append(text_block(overview.get("description")))
        if as_list(overview.get("images")):
            model.lossy(f"{key} images are not imported")
    model.set("description", "\n\n".join(parts))
    owner = one_line(as_dict(data.get("author")).get("name"))
    if not owner:
        owner = "unknown"
        model.invent("owner: no author name; set to 'unknown'")
    model.set("owner", owner)
    for key, value in data.items():
        if as_text(key) not in MODEL_KEYS and value not in (None, "", [], {}):
            model.keep(as_text(key), value)
    if as_list(data.get("tags_available")):
        model.keep("tags_available", data.get("tags_available"))

    raw_assets = {as_text(k): as_dict(v) for k, v in as_dict(data.get("data_assets")).items()}
    raw_components = {
        as_text(k): as_dict(v) for k, v in as_dict(data.get("technical_assets")).items()
    }
    raw_boundaries = {
        as_text(k): as_dict(v) for k, v in as_dict(data.get("trust_boundaries")).items()
    }
    for namespace, table in (("b", raw_boundaries), ("c", raw_components), ("a", raw_assets)):
        for name, item in table.items():
            ids.make(namespace, as_text(item.get("id")) or name, name)

    boundaries = []
    inside: dict[str, list[str]] = {}  # component id -> boundaries holding it
    nested: dict[str, str] = {}
    for name, raw in raw_boundaries.items():
        bid = as_text(raw.get("id")) or name
        element = Element(report, f"trust boundary '{one_line(bid, 60)}'", NS)
        new_id = ids.of("b", bid)
        element.set_id(new_id, bid)
        element.set("title", one_line(name))
        kind = as_text(raw.get("type"))
        trust = TRUST.get(kind, "internal")
        element.set("trust", trust)
        element.invent(f"trust level '{trust}' from type '{one_line(kind, 40)}'")
        element.keep("type", kind)
        element.set("description", text_block(raw.get("description")))
        for tag in as_list(raw.get("tags")):
            element.tag(tag)
        for ref in as_list(raw.get("technical_assets_inside")):
            inside.setdefault(as_text(ref), []).append(bid)
        for ref in as_list(raw.get("trust_boundaries_nested")):
            nested[as_text(ref)] = bid
        element.keep_rest(
            raw,
            {
                "id",
                "description",
                "type",
                "tags",
                "technical_assets_inside",
                "trust_boundaries_nested",
            },
        )
        boundaries.append((bid, element))
        report.count("boundaries")
    for bid, element in boundaries:
        if bid in nested and ids.get("b", nested[bid]):
            element.set("parent", ids.of("b", nested[bid]))

    def depth(bid: str) -> int:
        level, current = 0, bid
        while current in nested and level <= len(nested):
            current, level = nested[current], level + 1
        return level

    runtimes: dict[str, list[str]] = {}
    for name, raw in as_dict(data.get("shared_runtimes")).items():
        runtime = as_dict(raw)
        report.lossy(
            f"shared runtime '{one_line(name, 60)}'",
            "tm-docs has no shared runtimes; kept as an attribute of the components it runs",
        )
        for ref in as_list(runtime.get("technical_assets_running")):
            runtimes.setdefault(as_text(ref), []).append(
                as_text(runtime.get("id")) or as_text(name)
            )

    deploy_targets, vault_users = _delivery_facts(raw_components)
    stored_at: dict[str, list[str]] = {}
    components = []
    flows = []
    link_ids: dict[str, str] = {}
    for name, raw in raw_components.items():
        cid = as_text(raw.get("id")) or name
        element = Element(report, f"technical asset '{one_line(cid, 60)}'", NS)
        new_id = ids.of("c", cid)
        element.set_id(new_id, cid)
        element.set("title", one_line(name))
        component_kind = KINDS.get(as_text(raw.get("type")))
        if component_kind is None:
            component_kind = "process"
            element.invent(f"kind 'process' for type '{one_line(raw.get('type'), 40)}'")
        element.set("kind", component_kind)
        holders = sorted(inside.get(cid, []), key=depth)
        if holders:
            element.set("boundary", ids.of("b", holders[-1]))
        element.set("owner", one_line(raw.get("owner")) or None)
        technology = one_line(raw.get("technology")) or one_line(
            ", ".join(as_text(t) for t in as_list(raw.get("technologies")))
        )
        if as_text(raw.get("machine")).strip().lower() == "container":
            # Threagile's own base-image rule reads `machine`; tm-docs' reads the technology.
            technology = f"{technology}, container" if technology else "container"
        element.set("technology", technology or None)
        role = _role(raw)
        if role:
            element.set("delivery_role", role)
        elif cid in deploy_targets:
            element.set("delivery_role", "deploy_target")
            element.set("deployment", "push")
            element.invent(
                "delivery role 'deploy_target' and deployment 'push': a build pipeline writes "
                "to it over a devops link"
            )
        if cid in vault_users:
            element.set("secrets_in_vault", True)
            element.invent("secrets_in_vault: it has a communication link to a vault")
        _accepts(element, raw)
        element.set("description", text_block(raw.get("description")))
        encryption = as_text(raw.get("encryption"))
        if encryption:
            element.set("encrypted_at_rest", encryption != "none")
            if encryption not in ("none", "transparent"):
                element.keep("encryption", encryption)
        data_ids = []
        for ref in as_list(raw.get("data_assets_processed")) + as_list(
            raw.get("data_assets_stored")
        ):
            asset_id = ids.get("a", as_text(ref))
            if asset_id is None:
                element.lossy(f"data asset '{one_line(ref, 60)}' does not exist; reference dropped")
            elif asset_id not in data_ids:
                data_ids.append(asset_id)
        for ref in as_list(raw.get("data_assets_stored")):
            stored_at.setdefault(as_text(ref), []).append(new_id)
        element.set("data", data_ids)
        if raw.get("out_of_scope") is True:
            reason = text_block(raw.get("justification_out_of_scope"))
            if not reason:
                reason = "Marked out of scope in Threagile without a justification."
                element.invent("out-of-scope reason: none given")
            element.set("out_of_scope", {"reason": reason})
        for tag in as_list(raw.get("tags")):
            element.tag(tag)
        if cid in runtimes:
            element.keep("sharedRuntime", ", ".join(runtimes[cid]))
        element.keep_rest(raw, MAPPED_COMPONENT_KEYS)
        components.append(element)
        report.count("components")
        for link_name, link_raw in as_dict(raw.get("communication_links")).items():
            link = as_dict(link_raw)
            # Threagile names a link '<source id>><link title as a slug>'.
            original = f"{cid}>{slug(as_text(link_name), lower=True)}"
            flow = Element(report, f"communication link '{one_line(original, 80)}'", NS)
            target = ids.get("c", as_text(link.get("target")))
            if target is None:
                report.lossy(
                    flow.source,
                    f"target '{one_line(link.get('target'), 60)}' is not a technical asset; "
                    "not imported",
                )
                continue
            fid = ids.make("link", original, f"{cid}-{as_text(link_name)}")
            link_ids[original] = fid
            flow.set("id", fid)
            flow.keep("id", original)
            flow.set("title", one_line(link_name))
            flow.set("source", new_id)
            flow.set("destination", target)
            protocol = as_text(link.get("protocol"))
            flow.set("protocol", one_line(protocol) or None)
            if protocol in ENCRYPTED or "encrypted" in protocol.split("-"):
                flow.set("encrypted", True)
            elif protocol in PLAIN:
                flow.set("encrypted", False)
            flow.set("authentication", _link_authentication(flow, link, raw))
            data_ids = []
            for key in ("data_assets_sent", "data_assets_received"):
                for ref in as_list(link.get(key)):
                    asset_id = ids.get("a", as_text(ref))
                    if asset_id is None:
                        flow.lossy(
                            f"data asset '{one_line(ref, 60)}' does not exist; reference dropped"
                        )
                    elif asset_id not in data_ids:
                        data_ids.append(asset_id)
            if as_list(link.get("data_assets_received")):
                flow.keep("data_assets_received", link.get("data_assets_received"))
            flow.set("data", data_ids)
            flow.set("description", text_block(link.get("description")))
            for tag in as_list(link.get("tags")):
                flow.tag(tag)
            flow.keep_rest(link, MAPPED_LINK_KEYS)
            flows.append(flow)
            report.count("flows")

    assets = []
    for name, raw in raw_assets.items():
        aid = as_text(raw.get("id")) or name
        element = Element(report, f"data asset '{one_line(aid, 60)}'", NS)
        new_id = ids.of("a", aid)
        element.set_id(new_id, aid)
        element.set("title", one_line(name))
        element.set("kind", "data_set")
        classification = _scale(
            element, "confidentiality", raw.get("confidentiality"), CONFIDENTIALITY
        )
        if classification is None:
            classification = "confidential"
            element.invent("classification: none given; set to 'confidential'")
        element.set("classification", classification)
        for key in ("integrity", "availability"):
            element.set(key, _scale(element, key, raw.get(key), CRITICALITY))
        element.set("description", text_block(raw.get("description")))
        element.set("location", stored_at.get(aid, []))
        for tag in as_list(raw.get("tags")):
            element.tag(tag)
        element.keep_rest(raw, MAPPED_ASSET_KEYS)
        assets.append(element)
        report.count("assets")

    tracking = {as_text(k): as_dict(v) for k, v in as_dict(data.get("risk_tracking")).items()}
    used_tracking: set[str] = set()
    threats = []
    mitigations = []
    for cat_name, raw_category in as_dict(data.get("individual_risk_categories")).items():
        category = as_dict(raw_category)
        cat_id = as_text(category.get("id")) or as_text(cat_name)
        stride = as_text(category.get("stride")).replace("-", "_")
        for risk_name, raw_risk in as_dict(category.get("risks_identified")).items():
            risk = as_dict(raw_risk)
            title = one_line(_TAGS.sub("", as_text(risk_name))) or one_line(cat_name)
            element = Element(
                report, f"risk '{one_line(title, 80)}' of category '{one_line(cat_id, 40)}'", NS
            )
            targets = []
            for key in (
                "most_relevant_technical_asset",
                "most_relevant_communication_link",
                "most_relevant_data_asset",
            ):
                ref = as_text(risk.get(key))
                found = ids.get("c", ref) or link_ids.get(ref) or ids.get("a", ref)
                if found:
                    targets.append(found)
            for ref in as_list(risk.get("data_breach_technical_assets")):
                found = ids.get("c", as_text(ref))
                if found and found not in targets:
                    targets.append(found)
            if not targets:
                report.lossy(
                    element.source, "names no technical asset, link or data asset; not imported"
                )
                continue
            key_parts = [
                as_text(risk.get(k))
                for k in (
                    "most_relevant_technical_asset",
                    "most_relevant_communication_link",
                    "most_relevant_data_asset",
                )
                if risk.get(k)
            ]
            risk_id = "@".join([cat_id, *key_parts])
            tid = ids.make("threat", risk_id, f"{cat_id}-{title}")
            element.set("id", tid)
            element.keep("id", risk_id)
            element.set("title", title)
            element.set("description", text_block(category.get("description")))
            if stride in {s.value for s in Stride}:
                element.set("categories", [stride])
            else:
                element.set("categories", ["tampering"])
                element.invent(
                    f"category: stride '{one_line(category.get('stride'), 40)}' unknown; "
                    "set to 'tampering'"
                )
            element.set("targets", targets)
            impact = IMPACT.get(as_text(risk.get("exploitation_impact")))
            likelihood = LIKELIHOOD.get(as_text(risk.get("exploitation_likelihood")))
            if impact is None or likelihood is None:
                element.invent("impact or likelihood missing; set to 3")
            element.set("impact", impact or 3)
            element.set("likelihood", likelihood or 3)
            element.keep("severity", risk.get("severity"))
            element.keep("data_breach_probability", risk.get("data_breach_probability"))
            cwe = as_text(category.get("cwe"))
            if cwe.isdigit() and len(cwe) <= 5:
                element.set("references", [f"CWE-{cwe}"])
            track = tracking.get(risk_id)
            if track is not None:
                used_tracking.add(risk_id)
                status = TRACKING.get(as_text(track.get("status")), "open")
                element.set("status", status)
                element.keep("tracking.status", track.get("status"))
                if status in ("accepted", "false_positive"):
                    element.set(
                        "reason",
                        text_block(track.get("justification"))
                        or "Recorded in Threagile's risk tracking.",
                    )
            mitigation_text = text_block(category.get("mitigation"))
            if mitigation_text:
                mitigation = Element(report, f"mitigation of {element.source}", NS)
                mitigation.set("id", ids.make("mitigation", f"{risk_id}#m", f"{tid}-m"))
                mitigation.set("title", one_line(mitigation_text.splitlines()[0]))
                mitigation.set("description", mitigation_text)
                mitigation.set("owner", owner)
                mitigation.invent(f"owner: Threagile has none; set to the model author '{owner}'")
                if track is not None and as_text(track.get("status")) == "in-progress":
                    mitigation.set("status", "in_progress")
                if track is not None and track.get("ticket"):
                    mitigation.keep("ticket", track.get("ticket"))
                mitigation.set("threats", [tid])
                element.set("mitigations", [mitigation.data["id"]])
                mitigations.append(mitigation)
                report.count("mitigations")
            element.keep_rest(
                category,
                {"id", "description", "stride", "cwe", "mitigation", "risks_identified"},
            )
            threats.append(element)
            report.count("threats")
    for risk_id, track in tracking.items():
        if risk_id not in used_tracking:
            report.lossy(
                f"risk tracking '{one_line(risk_id, 80)}'",
                "tracks a risk Threagile computes from its rules; tm-docs has no such threat, "
                "so it is kept as a model attribute",
            )
            model.keep(f"risk_tracking.{slug(risk_id)[:60]}", track)

    out = model.build()
    out["format_version"] = 1
    out["boundaries"] = [e.build() for _, e in boundaries]
    out["components"] = [e.build() for e in components]
    out["flows"] = [e.build() for e in flows]
    out["assets"] = [e.build() for e in assets]
    out["threats"] = [e.build() for e in threats]
    out["mitigations"] = [e.build() for e in mitigations]
    return out, report
