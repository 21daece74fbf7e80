"""What a model records about each component and flow, as facts rules can test.

Each fact is a plain value: a boolean, None for "not recorded", a string, a
level (for ordered scales), or a set.  Rules in `tm_docs/rules/*.yaml` are
conditions over these names; this module is the one place that computes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..model import (
    AssetKind,
    AuthMethod,
    Classification,
    ClientKind,
    Component,
    ComponentKind,
    DeliveryRole,
    Deployment,
    Flow,
    FlowKind,
    InputFormat,
    ThreatModel,
    TokenCheck,
)
from .topology import Topology

_JOB = re.compile(r"\b(cron ?jobs?|jobs?|scheduler|batch)\b", re.IGNORECASE)
TOKEN_METHODS = {AuthMethod.JWT, AuthMethod.OAUTH2, AuthMethod.OIDC}
# What a receiver must verify of a bearer token before it trusts it.
REQUIRED_CHECKS = (TokenCheck.SIGNATURE, TokenCheck.EXPIRY, TokenCheck.AUDIENCE, TokenCheck.ISSUER)

# Ordered scales: a rule can ask for a level "at least" some value.
ORDERED: dict[str, list[str]] = {
    "classification": [c.value for c in Classification],
    "trust": ["untrusted", "partner", "dmz", "internal", "restricted"],
}

# Every fact, what it holds and which scale it uses; rule files are checked against this.
FLOW_FACTS: dict[str, str] = {
    "crosses_boundary": "bool: source and destination sit in different trust boundaries",
    "ingress": "bool: traffic from an external party enters the system",
    "into_more_trusted": "bool: the destination's boundary is trusted more than the source's",
    "from_external": "bool: the source is an external party",
    "to_external": "bool: the destination is an external party",
    "authentication": "text or unknown: the authentication method",
    "token": "bool: authenticated with a bearer token (jwt, oauth2, oidc)",
    "checks": "set: what the destination verifies of the token",
    "encrypted": "bool or unknown: encrypted in transit",
    "signed": "bool or unknown: the destination verifies a message signature",
    "kind": "text: request, webhook, event, stream or batch",
    "classification": "level: highest classification of the data carried",
    "carries": "set: kinds of the assets carried",
    "source_kind": "text: kind of the source component",
    "destination_kind": "text: kind of the destination component",
    "destination_trust": "level: trust of the destination's boundary",
    "bidirectional": "bool: data goes both ways",
    "presents_token": "bool or unknown: the source presents a bearer token to the destination",
    "checks_complete": "bool or unknown: the destination verifies signature, expiry, "
    "audience and issuer of the token (unknown when its checks are not recorded)",
    "unchecked": "set: what the destination does not verify of the token (of signature, "
    "expiry, audience, issuer; empty when the checks are not recorded)",
    "client": "text or unknown: who authenticates, human or service",
    "second_factor": "bool or unknown: a human client needs a second factor",
    "on_behalf_of_user": "bool or unknown: the end user's identity travels with the call",
    "beyond_purpose_classification": "level: highest classification of the data carried "
    "that is neither a secret nor among the assets the flow delivers",
    "destination_classification": "level: highest classification the destination holds",
    "destination_technology": "text: the destination's technology, lowercase",
    "source_delivery_role": "text or unknown: the source's part in delivering software",
    "destination_delivery_role": "text or unknown: the destination's part in delivering software",
    "destination_deployment": "text or unknown: whether the destination pulls or is pushed to",
}
COMPONENT_FACTS: dict[str, str] = {
    "kind": "text: external_entity, process, data_store or queue",
    "trust": "level: trust of the component's innermost boundary",
    "external": "bool: an external party",
    "reachable_from_external": "bool: an ingress flow ends here",
    "receives_credentials_from_external": "bool: an ingress flow brings a password or key here",
    "consumes_queue": "bool: reads from a queue component",
    "inbound_flows": "number: flows that end here",
    "callers": "number: distinct components with a flow that ends here",
    "classification": "level: highest classification of the assets it holds or handles",
    "assets": "set: kinds of the assets it holds or handles",
    "keeps": "set: kinds of the assets whose location is this component",
    "own_secrets": "bool: a secret is located here and at no external party (so it is the "
    "system's own credential, not a caller's token passing through)",
    "technology": "text: its technology, lowercase",
    "background_job": "bool: holds a background-job asset, or its technology names a job",
    "encrypted_at_rest": "bool or unknown",
    "audit_log": "bool or unknown",
    "logs_sensitive_data": "bool or unknown",
    "privileged": "bool or unknown",
    "rate_limited": "bool or unknown",
    "bounded_consumption": "bool or unknown",
    "accepts": "set: input formats it parses (empty when not recorded)",
    "escapes_input": "bool or unknown: builds queries, commands and paths from input safely",
    "fetches_input_urls": "bool or unknown: calls out to addresses that input influences",
    "secrets_in_vault": "bool or unknown: its secrets come from a vault at run time",
    "hardened": "bool or unknown: runs on a hardened, checked baseline",
    "delivery_role": "text or unknown: its part in delivering software",
    "deployment": "text or unknown: pull or push, for a deploy target",
    "pinned_dependencies": "bool or unknown: base images and dependencies are pinned",
    "calls": "text: technologies of the components it sends flows to, lowercase",
    "serves_browsers": "bool: people reach it through a browser or app (a flow from a human "
    "client ends here) or its technology names a web application, web server or CMS; load "
    "balancers, proxies, gateways and firewalls excluded",
}
FACTS = {"flow": FLOW_FACTS, "component": COMPONENT_FACTS}

_KINDS = [k.value for k in ComponentKind]
_ASSET_KINDS = [k.value for k in AssetKind]
_TRI = [True, False, "unknown"]
_BOOL = [True, False]

# The values a rule may compare a fact with (facts not listed take free text or numbers).
FACT_VALUES: dict[str, dict[str, list[Any]]] = {
    "flow": {
        **{
            name: _BOOL
            for name in (
                "crosses_boundary",
                "ingress",
                "into_more_trusted",
                "from_external",
                "to_external",
                "token",
                "bidirectional",
            )
        },
        "encrypted": _TRI,
        "signed": _TRI,
        "authentication": [m.value for m in AuthMethod] + ["unknown"],
        "checks": [c.value for c in TokenCheck],
        "kind": [k.value for k in FlowKind],
        "classification": ORDERED["classification"] + ["unknown"],
        "carries": _ASSET_KINDS,
        "source_kind": _KINDS,
        "destination_kind": _KINDS,
        "destination_trust": ORDERED["trust"] + ["unknown"],
        "presents_token": _TRI,
        "checks_complete": _TRI,
        "unchecked": [c.value for c in REQUIRED_CHECKS],
        "client": [c.value for c in ClientKind] + ["unknown"],
        "second_factor": _TRI,
        "on_behalf_of_user": _TRI,
        "beyond_purpose_classification": ORDERED["classification"] + ["unknown"],
        "destination_classification": ORDERED["classification"] + ["unknown"],
        "source_delivery_role": [r.value for r in DeliveryRole] + ["unknown"],
        "destination_delivery_role": [r.value for r in DeliveryRole] + ["unknown"],
        "destination_deployment": [d.value for d in Deployment] + ["unknown"],
    },
    "component": {
        **{
            name: _BOOL
            for name in (
                "external",
                "reachable_from_external",
                "background_job",
                "receives_credentials_from_external",
                "consumes_queue",
                "own_secrets",
                "serves_browsers",
            )
        },
        **{
            name: _TRI
            for name in (
                "encrypted_at_rest",
                "audit_log",
                "logs_sensitive_data",
                "privileged",
                "rate_limited",
                "bounded_consumption",
                "escapes_input",
                "fetches_input_urls",
                "secrets_in_vault",
                "hardened",
                "pinned_dependencies",
            )
        },
        "accepts": [f.value for f in InputFormat],
        "delivery_role": [r.value for r in DeliveryRole] + ["unknown"],
        "deployment": [d.value for d in Deployment] + ["unknown"],
        "kind": _KINDS,
        "trust": ORDERED["trust"] + ["unknown"],
        "classification": ORDERED["classification"] + ["unknown"],
        "assets": _ASSET_KINDS,
        "keeps": _ASSET_KINDS,
    },
}


@dataclass(frozen=True)
class Subject:
    """A component or flow with its facts."""

    kind: str  # "component" or "flow"
    element: Component | Flow
    facts: dict[str, Any]

    @property
    def id(self) -> str:
        return self.element.id

    @property
    def title(self) -> str:
        return self.element.title or self.element.id


# Methods where what travels is proof derived from a credential, not the credential.
_DERIVED_PROOF = {*TOKEN_METHODS, AuthMethod.MTLS, AuthMethod.SIGNATURE, AuthMethod.CLOUD_IAM}


def _presents_credentials(flow: Flow, assets: dict[str, Any]) -> bool:
    """The flow carries a secret that is itself the credential (a password, an API key)."""
    auth = flow.authentication
    carries_secret = any(assets[a].kind.value == "secret" for a in flow.data)
    return carries_secret and (auth is None or auth.method not in _DERIVED_PROOF)


def _token_facts(flow: Flow) -> dict[str, Any]:
    """Who presents a token, and what the receiver leaves unchecked (None: not recorded)."""
    auth = flow.authentication
    if auth is None or auth.method not in TOKEN_METHODS:
        return {"presents_token": False, "checks_complete": None, "unchecked": set()}
    if auth.checks is None:
        return {"presents_token": auth.presents_token, "checks_complete": None, "unchecked": set()}
    missing = {c.value for c in REQUIRED_CHECKS if c not in auth.checks}
    return {
        "presents_token": auth.presents_token,
        "checks_complete": not missing,
        "unchecked": missing,
    }


# Technologies that render pages for browsers, and ones that only pass traffic on.
_WEB = re.compile(
    r"web[- ]?(server|app(lication)?)|\bcms\b|application[- ]server|report[- ]engine",
    re.IGNORECASE,
)
_FORWARDER = re.compile(
    r"load[- ]?balancer|reverse[- ]proxy|\bproxy\b|\bwaf\b|firewall|gateway|\benvoy\b",
    re.IGNORECASE,
)


def _serves_browsers(component: Component, inbound: list[Flow]) -> bool:
    technology = component.technology or ""
    if _FORWARDER.search(technology):
        return False
    human = any(f.authentication and f.authentication.client is ClientKind.HUMAN for f in inbound)
    return human or bool(_WEB.search(technology))


def _highest(values: list[Classification]) -> str | None:
    order = list(Classification)
    return max(values, key=order.index).value if values else None


def _trust(topology: Topology, component: Component) -> str | None:
    trust = topology.trust_of(component)
    return trust.value if trust is not None else None


def subjects(model: ThreatModel, topology: Topology | None = None) -> list[Subject]:
    """Every component and flow of the model with its facts."""
    topology = topology or Topology(model)
    components = topology.components
    assets = {a.id: a for a in model.assets}
    # Where external parties send traffic in: flows from an external source to an
    # inside destination.  (A two-way call we make to the outside is an ingress
    # point for its answers, but nobody outside chose to call us through it.)
    entry_points: dict[str, list[Flow]] = {}
    for flow in model.flows:
        if topology.is_external(components[flow.source]) and not topology.is_external(
            components[flow.destination]
        ):
            entry_points.setdefault(flow.destination, []).append(flow)
    located: dict[str, set[str]] = {}
    for asset in model.assets:
        for component_id in asset.location:
            located.setdefault(component_id, set()).add(asset.id)
    result: list[Subject] = []
    held_by = {c.id: located.get(c.id, set()) | set(c.data) for c in model.components}

    def value(item: Any) -> str | None:
        return item.value if item is not None else None

    for component in model.components:
        held = located.get(component.id, set()) | set(component.data)
        inbound = [f for f in model.flows if f.destination == component.id]
        facts: dict[str, Any] = {
            "kind": component.kind.value,
            "trust": _trust(topology, component),
            "external": topology.is_external(component),
            "reachable_from_external": component.id in entry_points,
            "receives_credentials_from_external": any(
                _presents_credentials(f, assets) for f in entry_points.get(component.id, [])
            ),
            "consumes_queue": any(
                components[f.source].kind is ComponentKind.QUEUE for f in inbound
            ),
            "inbound_flows": len(inbound),
            "callers": len({f.source for f in inbound}),
            "classification": _highest([assets[a].classification for a in held]),
            "assets": {assets[a].kind.value for a in held},
            "keeps": {assets[a].kind.value for a in located.get(component.id, set())},
            "own_secrets": any(
                assets[a].kind is AssetKind.SECRET
                and not any(topology.is_external(components[c]) for c in assets[a].location)
                for a in located.get(component.id, set())
            ),
            "technology": (component.technology or "").lower(),
            "background_job": any(assets[a].kind.value == "background_job" for a in held)
            or bool(_JOB.search(component.technology or "")),
            "encrypted_at_rest": component.encrypted_at_rest,
            "audit_log": component.audit_log,
            "logs_sensitive_data": component.logs_sensitive_data,
            "privileged": component.privileged,
            "rate_limited": component.rate_limited,
            "bounded_consumption": component.bounded_consumption,
            "accepts": {f.value for f in component.accepts or ()},
            "escapes_input": component.escapes_input,
            "fetches_input_urls": component.fetches_input_urls,
            "secrets_in_vault": component.secrets_in_vault,
            "hardened": component.hardened,
            "delivery_role": value(component.delivery_role),
            "deployment": value(component.deployment),
            "pinned_dependencies": component.pinned_dependencies,
            "calls": " ".join(
                (components[f.destination].technology or "").lower()
                for f in model.flows
                if f.source == component.id
            ),
            "serves_browsers": _serves_browsers(component, inbound),
        }
        result.append(Subject("component", component, facts))

    for flow in model.flows:
        source, destination = components[flow.source], components[flow.destination]
        auth = flow.authentication
        source_trust = topology.trust_of(source)
        destination_trust = topology.trust_of(destination)
        facts = {
            "crosses_boundary": topology.crosses_boundary(flow),
            "ingress": topology.is_ingress(flow),
            "into_more_trusted": (
                source_trust is not None
                and destination_trust is not None
                and destination_trust.rank > source_trust.rank
            ),
            "from_external": topology.is_external(source),
            "to_external": topology.is_external(destination),
            "authentication": auth.method.value if auth else None,
            "token": auth is not None and auth.method in TOKEN_METHODS,
            "checks": {c.value for c in auth.checks or ()} if auth else set(),
            "encrypted": flow.encrypted,
            "signed": flow.signed,
            "kind": flow.kind.value,
            "classification": _highest([assets[a].classification for a in flow.data]),
            "carries": {assets[a].kind.value for a in flow.data},
            "source_kind": source.kind.value,
            "destination_kind": destination.kind.value,
            "destination_trust": destination_trust.value if destination_trust else None,
            "bidirectional": flow.bidirectional,
            **_token_facts(flow),
            "client": value(auth.client) if auth else None,
            "second_factor": auth.second_factor if auth else None,
            "on_behalf_of_user": auth.on_behalf_of_user if auth else None,
            "beyond_purpose_classification": _highest(
                [
                    assets[a].classification
                    for a in flow.data
                    if a not in flow.delivers and assets[a].kind is not AssetKind.SECRET
                ]
            ),
            "destination_classification": _highest(
                [assets[a].classification for a in held_by[destination.id]]
            ),
            "destination_technology": (destination.technology or "").lower(),
            "source_delivery_role": value(source.delivery_role),
            "destination_delivery_role": value(destination.delivery_role),
            "destination_deployment": value(destination.deployment),
        }
        result.append(Subject("flow", flow, facts))
    return result
