"""Importers turn what other tools state into tm-docs facts, and leave the rest unknown.

Threagile's demo model is bundled with the benchmarks (benchmarks/threagile/, with its
origin and licence); the Threat Dragon and pytm cases start from the real samples
beside the repository and set the properties under test, as an author would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tm_docs.analysis.suggest import suggestions
from tm_docs.interop.run import import_model
from tm_docs.load.rules import load_rules
from tm_docs.model import Component, Flow, ThreatModel

from .conftest import REPO

DEMO = REPO / "benchmarks" / "threagile" / "threagile-example-model.yaml"
SAMPLES = REPO.parent / "shared" / "interop-samples"
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason="the interop samples folder ../shared/interop-samples is absent"
)


def _component(model: ThreatModel, cid: str) -> Component:
    return next(c for c in model.components if c.id == cid)


def _flow(model: ThreatModel, original: str) -> Flow:
    return next(f for f in model.flows if f.attributes.get("threagile.id") == original)


def _keys(model: ThreatModel) -> set[str]:
    return {s.key for s in suggestions(model, load_rules().rules)}


def test_threagile_technologies_and_formats_become_component_facts() -> None:
    model, _, _ = import_model("threagile", DEMO)
    assert _component(model, "git-repo").delivery_role is not None
    assert _component(model, "git-repo").delivery_role.value == "source_repository"
    assert _component(model, "jenkins-buildserver").delivery_role.value == "build_server"
    # the build pipeline writes to the web server and the CMS over devops links: push
    for target in ("apache-webserver", "marketing-cms"):
        component = _component(model, target)
        assert component.delivery_role.value == "deploy_target"
        assert component.deployment is not None and component.deployment.value == "push"
        assert "tm-docs.review" in component.attributes
    erp = _component(model, "erp-system")
    assert {f.value for f in erp.accepts or []} == {"xml", "files", "serialized_objects"}
    assert _component(model, "apache-webserver").technology == "web-server, container"
    assert _component(model, "contract-fileserver").encrypted_at_rest is False


def test_threagile_links_become_authentication_facts() -> None:
    model, _, _ = import_model("threagile", DEMO)
    customer = _flow(model, "customer-client>customer-traffic").authentication
    assert customer is not None
    assert customer.method.value == "session"
    assert customer.client is not None and customer.client.value == "human"
    assert customer.second_factor is False
    assert customer.on_behalf_of_user is True
    erp = _flow(model, "apache-webserver>erp-system-traffic").authentication
    assert erp is not None and erp.client is not None
    assert erp.client.value == "service" and erp.on_behalf_of_user is False
    assert erp.second_factor is None  # a service: the question does not arise
    assert _flow(model, "load-balancer>web-application-traffic").encrypted is False
    assert _flow(model, "backend-admin-client>db-update-access").encrypted is True


def test_threagile_states_nothing_about_the_other_facts() -> None:
    model, _, _ = import_model("threagile", DEMO)
    for component in model.components:
        assert component.escapes_input is None
        assert component.fetches_input_urls is None
        assert component.hardened is None
        assert component.pinned_dependencies is None
        # the demo has no vault, which says nothing about where each secret lives
        assert component.secrets_in_vault is None


def test_a_link_to_a_vault_records_secrets_in_the_vault(tmp_path: Path) -> None:
    data: dict[str, Any] = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    data["technical_assets"]["Vault"] = {
        "id": "vault",
        "type": "process",
        "technology": "vault",
        "data_assets_processed": ["customer-accounts"],
    }
    erp = data["technical_assets"]["Backoffice ERP System"]
    erp["communication_links"]["Secrets"] = {
        "target": "vault",
        "protocol": "https",
        "authentication": "client-certificate",
        "data_assets_received": ["customer-accounts"],
    }
    source = tmp_path / "threagile.yaml"
    source.write_text(yaml.safe_dump(data), encoding="utf-8")
    model, _, _ = import_model("threagile", source)
    assert _component(model, "erp-system").secrets_in_vault is True
    assert _component(model, "apache-webserver").secrets_in_vault is None


def test_imported_threagile_facts_drive_the_rules() -> None:
    model, _, _ = import_model("threagile", DEMO)
    keys = _keys(model)
    for expected in (
        "build-system-backdooring@jenkins-buildserver",
        "secrets-leak-from-repository@git-repo",
        "unsafe-deserialisation@erp-system",
        "xml-external-entities@erp-system",
        "human-without-second-factor@customer-client-customer-traffic",
        "user-identity-not-propagated@apache-webserver-erp-system-traffic",
        "image-pinning-unrecorded@apache-webserver",
        "cross-site-scripting@apache-webserver",
        "sql-injection@erp-system",
        "path-traversal@erp-system",
    ):
        assert expected in keys, sorted(keys)
    assert any(k.startswith("unchecked-deployment@") for k in keys)


def _dragon(tmp_path: Path) -> Path:
    data = json.loads((SAMPLES / "threat-dragon" / "three-tier-web-app.json").read_text("utf-8"))
    for diagram in data["detail"]["diagrams"]:
        for cell in diagram["cells"]:
            info = cell.get("data") or {}
            if info.get("name") == "Web UI":
                info["isWebApplication"] = True
            if info.get("name") == "PostgresSQL":
                info["type"] = "tm.Store"
                info["storesCredentials"] = True
            if info.get("type") == "tm.Flow":
                info["protocol"] = "HTTPS" if info.get("isBidirectional") else "HTTP"
    out = tmp_path / "dragon.json"
    out.write_text(json.dumps(data), encoding="utf-8")
    return out


@needs_samples
def test_threat_dragon_properties_become_facts(tmp_path: Path) -> None:
    model, text, _ = import_model("threat-dragon", _dragon(tmp_path))
    store = next(c for c in model.components if c.title == "PostgresSQL")
    secret = next(a for a in model.assets if a.kind.value == "secret")
    assert secret.location == [store.id]
    assert "tm-docs.review" in secret.attributes
    web = next(c for c in model.components if c.title == "Web UI")
    assert web.technology == "web application"
    assert {f.encrypted for f in model.flows} == {True, False}
    keys = _keys(model)
    assert f"secrets-stored-unencrypted@{store.id}" in keys
    assert f"cross-site-scripting@{web.id}" in keys
    assert "restricted" in text


@needs_samples
def test_threat_dragon_unset_flags_stay_unknown() -> None:
    model, _, _ = import_model(
        "threat-dragon", SAMPLES / "threat-dragon" / "three-tier-web-app.json"
    )
    assert not model.assets
    assert all(c.technology is None for c in model.components)
    assert all(f.encrypted is None for f in model.flows)


@needs_samples
def test_pytm_attributes_become_facts(tmp_path: Path) -> None:
    data = json.loads((SAMPLES / "pytm" / "input.json").read_text(encoding="utf-8"))
    data["data"][0]["isCredentials"] = True
    for element in data["elements"]:
        if element["name"] == "Web Server":
            element.update(isHardened=False, sanitizesInput=True)
        if element["name"] == "SQL Database":
            element["isEncrypted"] = False
    data["flows"][0]["protocol"] = "HTTPS"
    data["flows"][1]["isEncrypted"] = False
    source = tmp_path / "tm.json"
    source.write_text(json.dumps(data), encoding="utf-8")
    model, _, _ = import_model("pytm", source)
    assert model.assets[0].kind.value == "secret"
    server = next(c for c in model.components if c.title == "Web Server")
    assert server.hardened is False and server.escapes_input is True
    assert server.encrypted_at_rest is None  # a process has no storage to encrypt
    database = next(c for c in model.components if c.title == "SQL Database")
    assert database.encrypted_at_rest is False and database.hardened is None
    encrypted = {f.title: f.encrypted for f in model.flows}
    assert encrypted == {"Request": True, "Insert": False, "Select": None, "Response": None}


def test_the_newer_technologies_list_counts_like_technology(tmp_path: Path) -> None:
    text = DEMO.read_text(encoding="utf-8")
    assert text.count("technology: build-pipeline\n") == 1
    source = tmp_path / "threagile.yaml"
    source.write_text(
        text.replace("technology: build-pipeline\n", "technologies: [ci, container-platform]\n"),
        encoding="utf-8",
    )
    model, _, _ = import_model("threagile", source)
    jenkins = _component(model, "jenkins-buildserver")
    assert jenkins.delivery_role is not None and jenkins.delivery_role.value == "build_server"
    assert jenkins.technology == "ci, container-platform"
    assert _component(model, "apache-webserver").delivery_role is not None
