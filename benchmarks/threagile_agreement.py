"""How often tm-docs suggests the weakness classes that Threagile's own rules find.

For each real Threagile model, this script works out which risk categories
Threagile's built-in rules (`pkg/risks/builtin/*_rule.go` in the Threagile
repository) would raise, from the detection conditions those rules state,
restated here in plain Python over the model's YAML.  It then imports the model
with `tm-docs import threagile` and runs the packaged rules on the result.

A category counts as **agreed** when tm-docs makes a suggestion whose rule (or a
rule folded into it) names the category's CWE id, anywhere in the model; it is
**located** when such a suggestion is also on an element the Threagile risk is
about (its technical asset or communication link, or a flow from or to that
asset).  Categories that Threagile raises once for the whole model (a missing
vault, missing build infrastructure) are located wherever tm-docs finds them.

The restatement follows each rule's stated detection logic.  Two rules rank
assets by Threagile's "relative attacker attractiveness", a score computed over
the whole model; there the restatement uses the asset's own ratings instead
(see `_attractive`).  The script always exits 0: it is a report;
`tests/test_threagile_agreement.py` holds the bundled models to the goal.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tm_docs.analysis.suggest import Suggestion, suggestions
from tm_docs.interop.common import as_dict, as_list, as_text, read_yaml, slug
from tm_docs.interop.run import import_model
from tm_docs.load.rules import load_rules

HERE = Path(__file__).resolve().parent
MODELS = [
    HERE / "threagile" / "threagile-example-model.yaml",
    HERE.parent.parent / "shared" / "interop-samples" / "threagile" / "stub-threagile.yaml",
]
GOAL = 0.80


def _words(text: str) -> set[str]:
    return set(text.split())


CONFIDENTIALITY = ["public", "internal", "restricted", "confidential", "strictly-confidential"]
CRITICALITY = ["archive", "operational", "important", "critical", "mission-critical"]

# Threagile's technology attributes (pkg/types/technologies.yaml) that the rules read,
# by canonical technology name; aliases resolve to the canonical name first.
ALIASES = {
    "app-server": "application-server",
    "web-browser": "browser",
    "ci": "build-pipeline",
    "continuous-integration": "build-pipeline",
    "client": "client-system",
    "content-management-system": "cms",
    "code-inspection": "code-inspection-platform",
    "code-analysis": "code-inspection-platform",
    "container": "container-platform",
    "docker": "container-platform",
    "kubernetes": "container-platform",
    "db": "database",
    "desktop-system": "desktop",
    "enterprise-resource-planning": "erp",
    "file-storage": "file-server",
    "idp": "identity-provider",
    "identity-store": "identity-store-database",
    "ldap": "ldap-server",
    "lb": "load-balancer",
    "local-storage": "local-file-system",
    "mq": "message-queue",
    "siem": "monitoring",
    "git": "sourcecode-repository",
    "hashicorp-vault": "vault",
    "web-application-firewall": "waf",
    "web-app": "web-application",
    "rest-api": "web-service-rest",
    "soap-api": "web-service-soap",
    "cron": "scheduler",
    "job": "task",
}
ATTRIBUTES: dict[str, set[str]] = {
    "web_application": _words(
        "application-server cms erp identity-provider report-engine web-application web-server"
    ),
    "web_service": _words("web-service-rest web-service-soap"),
    "development_relevant": _words(
        "artifact-registry build-pipeline code-inspection-platform devops-client "
        "sourcecode-repository"
    ),
    "may_contain_secrets": _words("artifact-registry operational-historian sourcecode-repository"),
    "no_authentication_required": _words(
        "ids ips load-balancer reverse-proxy service-registry waf"
    ),
    "unprotected_communications_tolerated": _words("ids ips monitoring"),
    "traffic_forwarding": _words("load-balancer reverse-proxy waf"),
    "close_to_high_value_targets_tolerated": _words(
        "ids ips load-balancer monitoring reverse-proxy"
    ),
    "less_protected_type": _words(
        "ai application-server artifact-registry browser build-pipeline client-system cms "
        "code-inspection-platform desktop devops-client ejb iot-device mail-server mainframe "
        "mobile-app monitoring scheduler sourcecode-repository web-application web-server "
        "web-service-rest web-service-soap"
    ),
    "high_value_target": _words(
        "application-server erp hmi identity-provider industrial-control-actor "
        "industrial-control-sensor plc scada"
    ),
    "processing_end_user_requests": _words(
        "application-server ejb erp report-engine web-application web-server web-service-rest "
        "web-service-soap"
    ),
    "propagates_identity": _words(
        "application-server browser cli client-system cms desktop devops-client ejb erp "
        "function gateway identity-provider iot-device library load-balancer message-queue "
        "mobile-app report-engine reverse-proxy search-engine service-mesh task tool waf "
        "web-application web-server web-service-rest web-service-soap"
    ),
    "client": _words("browser client-system desktop devops-client iot-device mobile-app"),
    "query_injection": _words("database identity-store-database operational-historian"),
    "file_storage": _words("file-server local-file-system"),
    "identity_related": _words(
        "identity-provider identity-store-database identity-store-ldap ldap-server"
    ),
    "identity_store": _words("identity-store-database identity-store-ldap ldap-server"),
    "no_storage_at_rest": _words("ids ips load-balancer reverse-proxy waf"),
    "embedded": _words("industrial-control-actor industrial-control-sensor library"),
    "storing_end_user_data": _words(
        "block-storage database erp file-server local-file-system mail-server message-queue "
        "stream-processing"
    ),
    "http_internet_ok": _words("gateway reverse-proxy waf web-application web-server"),
    "unnecessary_data_tolerated": _words("ids ips monitoring"),
    "search": _words("search-engine search-index"),
}
WEB_PROTOCOLS = {"http", "https", "ws", "wss", "reverse-proxy-web-protocol"}
WEB_PROTOCOLS.add("reverse-proxy-web-protocol-encrypted")
DB_PROTOCOLS = _words(
    "jdbc jdbc-encrypted nosql-access-protocol nosql-access-protocol-encrypted odbc "
    "odbc-encrypted sql-access-protocol sql-access-protocol-encrypted"
)
LAX_DB_PROTOCOLS = {"http", "https", "binary", "binary-encrypted"}
LOCAL_PROTOCOLS = _words(
    "container-spawning in-process-library-call inter-process-communication local-file-access"
)
ENCRYPTED_PROTOCOLS = _words(
    "binary-encrypted ftps https iiop-encrypted imap-encrypted jdbc-encrypted "
    "jrmp-encrypted ldaps nosql-access-protocol-encrypted odbc-encrypted pop3-encrypted "
    "reverse-proxy-web-protocol-encrypted scp sftp smb-encrypted smtp-encrypted "
    "sql-access-protocol-encrypted ssh ssh-tunnel text-encrypted wss"
)
CLOUD_TAGS = ("aws", "azure", "gcp", "ocp")
CLOUD_BOUNDARIES = {"network-cloud-provider", "network-cloud-security-group"}


def _level(scale: list[str], value: Any) -> int:
    text = as_text(value).strip().lower()
    return scale.index(text) if text in scale else 0


@dataclass
class Link:
    id: str  # Threagile's own id: '<source id>><title as a slug>'
    source: str
    target: str
    raw: dict[str, Any]

    def get(self, key: str) -> str:
        return as_text(self.raw.get(key)).strip().lower()

    def flag(self, key: str) -> bool:
        return self.raw.get(key) is True

    @property
    def protocol(self) -> str:
        return self.get("protocol")

    @property
    def sent(self) -> list[str]:
        return [as_text(a) for a in as_list(self.raw.get("data_assets_sent"))]

    @property
    def received(self) -> list[str]:
        return [as_text(a) for a in as_list(self.raw.get("data_assets_received"))]


@dataclass
class Asset:
    id: str
    raw: dict[str, Any]
    links: list[Link] = field(default_factory=list)

    def get(self, key: str) -> str:
        return as_text(self.raw.get(key)).strip().lower()

    def flag(self, key: str) -> bool:
        return self.raw.get(key) is True

    @property
    def technologies(self) -> set[str]:
        """Its technology and the newer `technologies` list, aliases resolved."""
        names = [self.raw.get("technology"), *as_list(self.raw.get("technologies"))]
        found = {as_text(n).strip().lower() for n in names} - {""}
        return {ALIASES.get(n, n) for n in found}

    def is_a(self, technology: str) -> bool:
        return technology in self.technologies

    def has(self, attribute: str) -> bool:
        return bool(self.technologies & ATTRIBUTES[attribute])

    @property
    def in_scope(self) -> bool:
        return not self.flag("out_of_scope")

    @property
    def datastore(self) -> bool:
        return self.get("type") == "datastore"

    @property
    def tags(self) -> set[str]:
        return {as_text(t).strip().lower() for t in as_list(self.raw.get("tags"))}

    def data(self, key: str) -> list[str]:
        return [as_text(a) for a in as_list(self.raw.get(key))]


@dataclass(frozen=True)
class Risk:
    category: str
    assets: frozenset[str]  # Threagile technical-asset ids
    links: frozenset[str] = frozenset()  # Threagile link ids


class Threagile:
    """A Threagile model's YAML, read the way its rules read it."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data_assets = {
            as_text(as_dict(v).get("id")) or as_text(k): as_dict(v)
            for k, v in as_dict(data.get("data_assets")).items()
        }
        self.assets: dict[str, Asset] = {}
        for name, value in as_dict(data.get("technical_assets")).items():
            raw = as_dict(value)
            asset = Asset(as_text(raw.get("id")) or as_text(name), raw)
            for title, link_raw in as_dict(raw.get("communication_links")).items():
                link = as_dict(link_raw)
                asset.links.append(
                    Link(
                        f"{asset.id}>{slug(as_text(title), lower=True)}",
                        asset.id,
                        as_text(link.get("target")),
                        link,
                    )
                )
            self.assets[asset.id] = asset
        self.links = [link for a in self.assets.values() for link in a.links]
        self.links = [link for link in self.links if link.target in self.assets]
        self.boundaries = {
            as_text(as_dict(v).get("id")) or as_text(k): as_dict(v)
            for k, v in as_dict(data.get("trust_boundaries")).items()
        }
        self.runtimes = {
            as_text(as_dict(v).get("id")) or as_text(k): as_dict(v)
            for k, v in as_dict(data.get("shared_runtimes")).items()
        }
        self.inside: dict[str, str] = {}
        self.parent: dict[str, str] = {}
        for bid, raw in self.boundaries.items():
            for ref in as_list(raw.get("technical_assets_inside")):
                self.inside[as_text(ref)] = bid
            for ref in as_list(raw.get("trust_boundaries_nested")):
                self.parent[as_text(ref)] = bid

    # --- what the rules ask of the model --------------------------------------

    def incoming(self, asset_id: str) -> list[Link]:
        return [link for link in self.links if link.target == asset_id]

    def highest(self, asset: Asset, key: str, scale: list[str]) -> int:
        own = _level(scale, asset.raw.get(key))
        ids = asset.data("data_assets_processed") + asset.data("data_assets_stored")
        return max([own, *(_level(scale, self.data_assets.get(i, {}).get(key)) for i in ids)])

    def sensitive(self, asset: Asset) -> bool:
        """Processes confidential or critical data (Threagile's usual threshold)."""
        return (
            self.highest(asset, "confidentiality", CONFIDENTIALITY) >= 3
            or self.highest(asset, "integrity", CRITICALITY) >= 3
            or self.highest(asset, "availability", CRITICALITY) >= 3
        )

    def link_level(self, link: Link, key: str, scale: list[str]) -> int:
        ids = link.sent + link.received
        return max([0, *(_level(scale, self.data_assets.get(i, {}).get(key)) for i in ids)])

    def boundary_type(self, bid: str | None) -> str:
        return as_text(self.boundaries.get(bid or "", {}).get("type")).strip().lower()

    def is_network(self, bid: str | None) -> bool:
        return self.boundary_type(bid).startswith("network-")

    def _network_only(self, bid: str | None) -> bool:
        if bid is None:
            return False
        return self.is_network(bid) or bid not in self.parent

    def across_network(self, link: Link) -> bool:
        source, target = self.inside.get(link.source), self.inside.get(link.target)
        if not self._network_only(source) or not self._network_only(target):
            return False
        return source != target and self.is_network(target)

    def network_segment(self, asset_id: str) -> str | None:
        bid = self.inside.get(asset_id)
        if bid is not None and not self.is_network(bid):
            return self.parent.get(bid)
        return bid

    def connected(self, a: str, b: str) -> bool:
        return any({link.source, link.target} == {a, b} for link in self.links)

    def tagged_cloud(self, asset: Asset) -> bool:
        def cloud(tags: set[str]) -> bool:
            return any(t == c or t.startswith(c + ":") for t in tags for c in CLOUD_TAGS)

        if cloud(asset.tags):
            return True
        bid = self.inside.get(asset.id)
        while bid is not None:
            raw = self.boundaries[bid]
            tags = {as_text(t).lower() for t in as_list(raw.get("tags"))}
            if cloud(tags) or self.boundary_type(bid) in CLOUD_BOUNDARIES:
                return True
            bid = self.parent.get(bid)
        return any(
            asset.id in [as_text(r) for r in as_list(rt.get("technical_assets_running"))]
            and cloud({as_text(t).lower() for t in as_list(rt.get("tags"))})
            for rt in self.runtimes.values()
        )


def _attractive(model: Threagile, asset: Asset) -> bool:
    """Stand-in for Threagile's attacker-attractiveness threshold: high ratings of its own."""
    return (
        _level(CONFIDENTIALITY, asset.raw.get("confidentiality")) >= 3
        or _level(CRITICALITY, asset.raw.get("integrity")) >= 3
        or _level(CRITICALITY, asset.raw.get("availability")) >= 3
    )


# --- the categories, each with its CWE id and its detection condition ----------------

Detector = Callable[[Threagile], Iterator[Risk]]
CATEGORIES: dict[str, tuple[int, Detector]] = {}
MODEL_WIDE = {"missing-vault", "missing-build-infrastructure", "missing-identity-store"}


def category(name: str, cwe: int) -> Callable[[Detector], Detector]:
    def register(detector: Detector) -> Detector:
        CATEGORIES[name] = (cwe, detector)
        return detector

    return register


def _one(asset: str, link: str | None = None) -> Risk:
    return Risk("", frozenset({asset}), frozenset({link} if link else set()))


@category("accidental-secret-leak", 200)
def _secret_leak(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if a.in_scope and a.has("may_contain_secrets"):
            yield _one(a.id)


@category("code-backdooring", 912)
def _code_backdooring(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if not a.in_scope or not a.has("development_relevant"):
            continue
        if a.flag("internet") or any(
            not link.flag("vpn") and m.assets[link.source].flag("internet")
            for link in m.incoming(a.id)
        ):
            yield _one(a.id)


@category("container-baseimage-backdooring", 912)
def _base_image(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if a.in_scope and a.get("machine") == "container":
            yield _one(a.id)


@category("container-platform-escape", 1008)
def _platform_escape(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if a.in_scope and a.is_a("container-platform"):
            yield _one(a.id)


@category("cross-site-request-forgery", 352)
def _csrf(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if a.in_scope and a.has("web_application"):
            for link in m.incoming(a.id):
                if link.protocol in WEB_PROTOCOLS:
                    yield _one(a.id, link.id)


@category("cross-site-scripting", 79)
def _xss(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if a.in_scope and a.has("web_application"):
            yield _one(a.id)


@category("dos-risky-access-across-trust-boundary", 400)
def _dos(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if not a.in_scope or a.is_a("load-balancer"):
            continue
        if _level(CRITICALITY, a.raw.get("availability")) < 3:
            continue
        for link in m.incoming(a.id):
            chain = [link]
            if m.assets[link.source].has("traffic_forwarding"):
                chain = m.incoming(link.source)
            for hop in chain:
                if (
                    m.across_network(hop)
                    and hop.get("usage") != "devops"
                    and hop.protocol not in LOCAL_PROTOCOLS
                ):
                    yield _one(a.id, link.id)


@category("ldap-injection", 90)
def _ldap(m: Threagile) -> Iterator[Risk]:
    for link in m.links:
        if m.assets[link.source].in_scope and link.protocol in ("ldap", "ldaps"):
            yield Risk("", frozenset({link.source, link.target}), frozenset({link.id}))


def _callers(m: Threagile, a: Asset) -> Iterator[Link]:
    for link in m.incoming(a.id):
        caller = m.assets[link.source]
        if not caller.has("unprotected_communications_tolerated") and not caller.datastore:
            yield link


@category("missing-authentication", 306)
def _missing_authentication(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if not a.in_scope or a.has("no_authentication_required"):
            continue
        if not m.sensitive(a) and not a.flag("multi_tenant"):
            continue
        for link in _callers(m, a):
            if link.get("authentication") == "none" and link.protocol not in LOCAL_PROTOCOLS:
                yield _one(a.id, link.id)


@category("missing-authentication-second-factor", 308)
def _second_factor(m: Threagile) -> Iterator[Risk]:
    def risky(link: Link) -> bool:
        return (
            m.link_level(link, "confidentiality", CONFIDENTIALITY) >= 3
            or m.link_level(link, "integrity", CRITICALITY) >= 3
        ) and link.get("authentication") != "two-factor"

    for a in m.assets.values():
        if not a.in_scope or a.has("traffic_forwarding"):
            continue
        if a.has("unprotected_communications_tolerated"):
            continue
        if not m.sensitive(a) and not a.flag("multi_tenant"):
            continue
        for link in _callers(m, a):
            caller = m.assets[link.source]
            if caller.flag("used_as_client_by_human") and risky(link):
                yield _one(a.id, link.id)
            elif caller.has("traffic_forwarding"):
                for hop in _callers(m, caller):
                    if m.assets[hop.source].flag("used_as_client_by_human") and risky(hop):
                        yield _one(a.id, hop.id)


@category("missing-build-infrastructure", 1127)
def _build_infrastructure(m: Threagile) -> Iterator[Risk]:
    techs = {t for a in m.assets.values() for t in a.technologies}
    complete = {"build-pipeline", "sourcecode-repository", "devops-client"} <= techs
    custom = [a.id for a in m.assets.values() if a.in_scope and a.flag("custom_developed_parts")]
    if custom and not complete:
        yield Risk("", frozenset(custom))


@category("missing-cloud-hardening", 1008)
def _cloud_hardening(m: Threagile) -> Iterator[Risk]:
    cloud = [a.id for a in m.assets.values() if a.in_scope and m.tagged_cloud(a)]
    if cloud:
        yield Risk("", frozenset(cloud))


@category("missing-file-validation", 434)
def _file_validation(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        formats = [as_text(f).lower() for f in as_list(a.raw.get("data_formats_accepted"))]
        if a.in_scope and a.flag("custom_developed_parts") and "file" in formats:
            yield _one(a.id)


@category("missing-hardening", 16)
def _hardening(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if a.in_scope and (a.datastore or a.has("high_value_target")) and _attractive(m, a):
            yield _one(a.id)


@category("missing-identity-propagation", 284)
def _identity_propagation(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if not a.in_scope or not a.has("processing_end_user_requests"):
            continue
        c = _level(CONFIDENTIALITY, a.raw.get("confidentiality"))
        i = _level(CRITICALITY, a.raw.get("integrity"))
        av = _level(CRITICALITY, a.raw.get("availability"))
        if a.flag("multi_tenant") and c < 2 and i < 2 and av < 2:
            continue
        if not a.flag("multi_tenant") and c < 3 and i < 3 and av < 3:
            continue
        for link in m.incoming(a.id):
            caller = m.assets[link.source]
            if not caller.has("propagates_identity") or caller.datastore:
                continue
            authorization = link.get("authorization").replace("end-user", "enduser")
            if link.get("authentication") == "none" or authorization.startswith("enduser"):
                continue
            if link.get("usage") == "devops" and authorization != "none":
                continue
            yield _one(a.id, link.id)


@category("missing-identity-provider-isolation", 1008)
def _idp_isolation(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if not a.in_scope or not a.has("identity_related"):
            continue
        for other in m.assets.values():
            if other.id == a.id or other.has("identity_related"):
                continue
            if other.has("close_to_high_value_targets_tolerated"):
                continue
            same_env = (
                m.inside.get(a.id) is not None
                and m.inside.get(a.id) == m.inside.get(other.id)
                and m.boundary_type(m.inside.get(a.id)) == "execution-environment"
            )
            if same_env or m.network_segment(a.id) == m.network_segment(other.id):
                yield _one(a.id)
                break


@category("missing-identity-store", 287)
def _identity_store(m: Threagile) -> Iterator[Risk]:
    if any(a.in_scope and a.has("identity_store") for a in m.assets.values()):
        return
    for link in m.links:
        if link.get("authorization").replace("end-user", "enduser").startswith("enduser"):
            yield Risk("", frozenset({link.target}), frozenset({link.id}))
            return


@category("missing-network-segmentation", 1008)
def _segmentation(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if not a.in_scope or a.has("close_to_high_value_targets_tolerated"):
            continue
        if not a.datastore and not _attractive(m, a):
            continue
        for other in m.assets.values():
            if (
                other.id != a.id
                and other.has("less_protected_type")
                and not other.has("close_to_high_value_targets_tolerated")
                and m.network_segment(a.id) == m.network_segment(other.id)
                and not m.connected(a.id, other.id)
            ):
                yield _one(a.id)
                break


@category("missing-vault", 522)
def _vault(m: Threagile) -> Iterator[Risk]:
    if not any(a.is_a("vault") for a in m.assets.values()) and m.assets:
        yield Risk("", frozenset(m.assets))


@category("missing-vault-isolation", 1008)
def _vault_isolation(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if not a.in_scope or not a.is_a("vault"):
            continue
        for other in m.assets.values():
            if other.id != a.id and m.network_segment(a.id) == m.network_segment(other.id):
                yield _one(a.id)
                break


@category("missing-waf", 1008)
def _waf(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if not a.in_scope or not (a.has("web_application") or a.has("web_service")):
            continue
        if any(
            m.across_network(link)
            and link.protocol in WEB_PROTOCOLS
            and not m.assets[link.source].is_a("waf")
            for link in m.incoming(a.id)
        ):
            yield _one(a.id)


@category("mixed-targets-on-shared-runtime", 1008)
def _mixed_targets(m: Threagile) -> Iterator[Risk]:
    for runtime in m.runtimes.values():
        running = [as_text(r) for r in as_list(runtime.get("technical_assets_running"))]
        running = [r for r in running if r in m.assets]
        if len({m.inside.get(r) for r in running}) > 1:
            yield Risk("", frozenset(running))


@category("path-traversal", 22)
def _path_traversal(m: Threagile) -> Iterator[Risk]:
    for link in m.links:
        if m.assets[link.target].has("file_storage") and m.assets[link.source].in_scope:
            yield Risk("", frozenset({link.source, link.target}), frozenset({link.id}))


@category("push-instead-of-pull-deployment", 1127)
def _push(m: Threagile) -> Iterator[Risk]:
    for link in m.links:
        source, target = m.assets[link.source], m.assets[link.target]
        if not source.is_a("build-pipeline") or link.flag("readonly"):
            continue
        if link.get("usage") != "devops" or not target.in_scope:
            continue
        if target.has("development_relevant") or target.get("usage") == "devops":
            continue
        yield _one(target.id, link.id)


@category("search-query-injection", 74)
def _search(m: Threagile) -> Iterator[Risk]:
    for link in m.links:
        if m.assets[link.target].has("search") and m.assets[link.source].in_scope:
            yield Risk("", frozenset({link.source, link.target}), frozenset({link.id}))


@category("server-side-request-forgery", 918)
def _ssrf(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if not a.in_scope or a.has("client") or a.is_a("load-balancer"):
            continue
        for link in a.links:
            if link.protocol in WEB_PROTOCOLS:
                yield _one(a.id, link.id)


@category("service-registry-poisoning", 693)
def _registry(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if a.in_scope and a.is_a("service-registry"):
            yield _one(a.id)


@category("sql-nosql-injection", 89)
def _sql(m: Threagile) -> Iterator[Risk]:
    for link in m.links:
        target = m.assets[link.target]
        if link.protocol in DB_PROTOCOLS or (
            link.protocol in LAX_DB_PROTOCOLS and target.has("query_injection")
        ):
            yield Risk("", frozenset({link.source, link.target}), frozenset({link.id}))


@category("unchecked-deployment", 1127)
def _unchecked(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if a.has("development_relevant"):
            yield _one(a.id)


@category("unencrypted-asset", 311)
def _unencrypted_asset(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        stored = a.data("data_assets_stored")
        if not a.in_scope or not stored or a.has("no_storage_at_rest") or a.has("embedded"):
            continue
        c = max(
            _level(CONFIDENTIALITY, m.data_assets.get(i, {}).get("confidentiality")) for i in stored
        )
        i_ = max(_level(CRITICALITY, m.data_assets.get(i, {}).get("integrity")) for i in stored)
        if c < 3 or i_ < 3:
            continue
        very = c == 4 or i_ == 4
        encryption = a.get("encryption") or "none"
        if encryption == "none" or (
            very
            and a.has("storing_end_user_data")
            and encryption not in ("data-with-enduser-individual-key",)
            and encryption != "data-with-end-user-individual-key"
        ):
            yield _one(a.id)


@category("unencrypted-communication", 319)
def _unencrypted_communication(m: Threagile) -> Iterator[Risk]:
    for link in m.links:
        source, target = m.assets[link.source], m.assets[link.target]
        if not source.in_scope and not target.in_scope:
            continue
        if link.protocol in ENCRYPTED_PROTOCOLS or link.protocol in LOCAL_PROTOCOLS:
            continue
        if source.has("unprotected_communications_tolerated") or target.has(
            "unprotected_communications_tolerated"
        ):
            continue
        auth_data = link.get("authentication") not in ("", "none")
        for asset_id in link.sent + link.received:
            data = m.data_assets.get(asset_id, {})
            c = _level(CONFIDENTIALITY, data.get("confidentiality"))
            i = _level(CRITICALITY, data.get("integrity"))
            if c == 4 or i == 4 or auth_data or (not link.flag("vpn") and (c == 3 or i == 3)):
                yield Risk("", frozenset({link.source, link.target}), frozenset({link.id}))
                break


@category("unguarded-access-from-internet", 501)
def _unguarded_internet(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if not a.in_scope or a.is_a("load-balancer"):
            continue
        if _level(CONFIDENTIALITY, a.raw.get("confidentiality")) < 3 and (
            _level(CRITICALITY, a.raw.get("integrity")) < 3
        ):
            continue
        for link in m.incoming(a.id):
            source = m.assets[link.source]
            exempt = not a.flag("custom_developed_parts") and (
                (a.has("http_internet_ok") and link.protocol in ("http", "https"))
                or (a.is_a("gateway") and link.protocol in ("ftp", "ftps", "sftp"))
            )
            if exempt or source.is_a("monitoring") or link.flag("vpn"):
                continue
            if source.flag("internet"):
                yield _one(a.id, link.id)


@category("unguarded-direct-datastore-access", 501)
def _unguarded_store(m: Threagile) -> Iterator[Risk]:
    def parents(bid: str | None) -> set[str | None]:
        found: set[str | None] = {bid}
        while bid in m.parent:
            bid = m.parent[bid]
            found.add(bid)
        return found

    for a in m.assets.values():
        if not a.in_scope or not a.datastore:
            continue
        if _level(CONFIDENTIALITY, a.raw.get("confidentiality")) < 3 and (
            _level(CRITICALITY, a.raw.get("integrity")) < 3
        ):
            continue
        for link in m.incoming(a.id):
            source = m.assets[link.source]
            if a.has("identity_store") and source.is_a("identity-provider"):
                continue
            if link.get("usage") == "devops" or not m.across_network(link):
                continue
            if a.is_a("file-server") and link.protocol in ("ftp", "ftps", "sftp"):
                continue
            if parents(m.inside.get(a.id)) & parents(m.inside.get(source.id)) - {None}:
                continue
            yield _one(a.id, link.id)


@category("unnecessary-communication-link", 1008)
def _unnecessary_link(m: Threagile) -> Iterator[Risk]:
    for link in m.links:
        if not link.sent and not link.received:
            if m.assets[link.source].in_scope or m.assets[link.target].in_scope:
                yield Risk("", frozenset({link.source, link.target}), frozenset({link.id}))


@category("unnecessary-data-asset", 1008)
def _unnecessary_data(m: Threagile) -> Iterator[Risk]:
    used = {
        i
        for a in m.assets.values()
        for i in a.data("data_assets_processed") + a.data("data_assets_stored")
    }
    used |= {i for link in m.links for i in link.sent + link.received}
    for asset_id in m.data_assets:
        if asset_id not in used:
            yield Risk("", frozenset())


@category("unnecessary-data-transfer", 1008)
def _unnecessary_transfer(m: Threagile) -> Iterator[Risk]:
    def sensitive(i: str) -> bool:
        data = m.data_assets.get(i, {})
        return (
            _level(CONFIDENTIALITY, data.get("confidentiality")) >= 3
            or _level(CRITICALITY, data.get("integrity")) >= 3
        )

    for a in m.assets.values():
        if not a.in_scope:
            continue
        held = set(a.data("data_assets_processed") + a.data("data_assets_stored"))
        for link in a.links + m.incoming(a.id):
            partner = m.assets[link.target if link.source == a.id else link.source]
            if partner.has("unnecessary_data_tolerated"):
                continue
            if any(i not in held and sensitive(i) for i in link.sent + link.received):
                yield _one(a.id)


@category("unnecessary-technical-asset", 1008)
def _unnecessary_asset(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        held = a.data("data_assets_processed") + a.data("data_assets_stored")
        if not held or (not a.links and not m.incoming(a.id)):
            yield _one(a.id)


@category("untrusted-deserialization", 502)
def _deserialization(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        if not a.in_scope:
            continue
        formats = [as_text(f).lower() for f in as_list(a.raw.get("data_formats_accepted"))]
        rmi = any(
            link.protocol in ("iiop", "iiop-encrypted", "jrmp", "jrmp-encrypted")
            for link in m.incoming(a.id)
        )
        if "serialization" in formats or a.is_a("ejb") or rmi:
            yield _one(a.id)


@category("wrong-trust-boundary-content", 1008)
def _wrong_boundary(m: Threagile) -> Iterator[Risk]:
    for bid, raw in m.boundaries.items():
        if m.boundary_type(bid) != "network-policy-namespace-isolation":
            continue
        for ref in as_list(raw.get("technical_assets_inside")):
            asset = m.assets.get(as_text(ref))
            if asset is not None and asset.get("machine") not in ("container", "serverless"):
                yield _one(asset.id)


@category("xml-external-entity", 611)
def _xxe(m: Threagile) -> Iterator[Risk]:
    for a in m.assets.values():
        formats = [as_text(f).lower() for f in as_list(a.raw.get("data_formats_accepted"))]
        if a.in_scope and "xml" in formats:
            yield _one(a.id)


# --- comparing with tm-docs ----------------------------------------------------


@dataclass
class CategoryResult:
    category: str
    cwe: int
    risks: int
    agreed_by: list[str]  # tm-docs rules naming the CWE anywhere in the model
    located_by: list[str]  # of those, on an element the Threagile risk is about

    @property
    def agreed(self) -> bool:
        return bool(self.agreed_by)

    @property
    def located(self) -> bool:
        return bool(self.located_by)


@dataclass
class ModelResult:
    name: str
    categories: list[CategoryResult]
    problems: list[str] = field(default_factory=list)


def _weaknesses(suggestion: Suggestion, rules: dict[str, Any]) -> set[int]:
    ids = set(suggestion.rule.cwe)
    for folded in suggestion.folded:
        ids |= set(rules[folded].cwe)
    return ids


def threagile_risks(data: dict[str, Any]) -> dict[str, list[Risk]]:
    """The categories Threagile's rules raise on the model, with their risks."""
    model = Threagile(data)
    found: dict[str, list[Risk]] = {}
    for name, (_, detector) in CATEGORIES.items():
        risks = list(detector(model))
        if risks:
            found[name] = risks
    return found


def compare(path: Path) -> ModelResult:
    data = read_yaml(path, path.name)
    found = threagile_risks(as_dict(data))
    model, _, _ = import_model("threagile", path)
    ruleset = load_rules()
    rules = ruleset.by_id()
    made = suggestions(model, ruleset.rules)
    # tm-docs ids of the imported elements, by their Threagile ids
    ids: dict[str, str] = {}
    for element in [*model.components, *model.flows]:
        ids[element.attributes.get("threagile.id", element.id)] = element.id
    ends = {f.id: {f.source, f.destination} for f in model.flows}
    results = []
    for name, risks in found.items():
        cwe = CATEGORIES[name][0]
        matching = [s for s in made if cwe in _weaknesses(s, rules)]
        places: set[str] = set()
        for risk in risks:
            places |= {ids[a] for a in risk.assets if a in ids}
            places |= {ids[link] for link in risk.links if link in ids}

        located = [
            s
            for s in matching
            if name in MODEL_WIDE
            or s.subject.id in places
            or ends.get(s.subject.id, set()) & places
        ]
        results.append(
            CategoryResult(
                name,
                cwe,
                len(risks),
                sorted({s.rule.id for s in matching}),
                sorted({s.rule.id for s in located}),
            )
        )
    return ModelResult(path.name, results, [str(p) for p in ruleset.problems])


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f} %" if whole else "—"


def summary(results: list[ModelResult]) -> dict[str, Any]:
    fired = sum(len(r.categories) for r in results)
    agreed = sum(c.agreed for r in results for c in r.categories)
    located = sum(c.located for r in results for c in r.categories)
    by_class: dict[int, list[int]] = {}
    for r in results:
        for c in r.categories:
            entry = by_class.setdefault(c.cwe, [0, 0])
            entry[0] += 1
            entry[1] += c.agreed
    return {
        "categories": fired,
        "agreed": agreed,
        "located": located,
        "agreement": agreed / fired if fired else 0.0,
        "located_agreement": located / fired if fired else 0.0,
        "by_class": {
            f"CWE-{k}": {"found": v[0], "agreed": v[1]} for k, v in sorted(by_class.items())
        },
        "meets_goal": fired > 0 and agreed / fired >= GOAL,
    }


def render(results: list[ModelResult]) -> str:
    lines = ["Agreement with Threagile's built-in rules", ""]
    for result in results:
        lines.append(f"{result.name}: {len(result.categories)} categories raised by Threagile")
        lines.append(f"  {'category':<40} {'CWE':>5} {'risks':>5}  tm-docs")
        for c in result.categories:
            if c.located:
                verdict = "located: " + ", ".join(c.located_by)
            elif c.agreed:
                verdict = "elsewhere: " + ", ".join(c.agreed_by)
            else:
                verdict = "MISSED"
            lines.append(f"  {c.category:<40} {c.cwe:>5} {c.risks:>5}  {verdict}")
        lines.append("")
    numbers = summary(results)
    lines.append("per weakness class (found by Threagile / suggested by tm-docs):")
    for cwe, entry in numbers["by_class"].items():
        lines.append(f"  {cwe:<9} {entry['agreed']} of {entry['found']}")
    lines += [
        "",
        f"overall: {numbers['agreed']} of {numbers['categories']} categories agreed "
        f"({_percent(numbers['agreed'], numbers['categories'])}, goal ≥ {GOAL:.0%}), "
        f"{numbers['located']} on the same element "
        f"({_percent(numbers['located'], numbers['categories'])}): "
        + ("goal met" if numbers["meets_goal"] else "goal NOT met"),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, help="Threagile YAML models")
    parser.add_argument("--json", action="store_true", help="print the numbers as JSON")
    args = parser.parse_args(argv)
    paths = args.models or [p for p in MODELS if p.is_file()]
    results = [compare(p) for p in paths]
    if args.json:
        document = {
            **summary(results),
            "models": {
                r.name: {
                    c.category: {
                        "cwe": c.cwe,
                        "risks": c.risks,
                        "agreed_by": c.agreed_by,
                        "located_by": c.located_by,
                    }
                    for c in r.categories
                }
                for r in results
            },
            "problems": [p for r in results for p in r.problems],
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(render(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
