"""The controls the mitigations implement, grouped by framework.

Pure: from the portfolio of loaded models to one list of frameworks, each with
its controls in their natural order (V1.2.9 before V1.2.10), each control with
the mitigations that name it and the threats those mitigations address.  The
site's Controls page, its CSV and JSON and `tm-docs controls` all read it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import ControlId, Mitigation, MitigationStatus, ThreatModel
from .portfolio import ModelThreat, Portfolio

# What the frameworks are called; any other namespace is shown as it is written.
FRAMEWORK_NAMES = {
    "asvs": "OWASP ASVS",
    "nist-800-53": "NIST SP 800-53",
    "iso-27001": "ISO/IEC 27001",
    "cwe": "CWE",
    "capec": "CAPEC",
    "pci-dss": "PCI DSS",
}


@dataclass(frozen=True)
class ControlUse:
    """One mitigation that implements a control, with the threats it addresses."""

    model: ThreatModel
    mitigation: Mitigation
    threats: tuple[ModelThreat, ...]  # highest inherent risk first


@dataclass(frozen=True)
class Control:
    control: ControlId
    uses: tuple[ControlUse, ...]  # by model id, then mitigation id

    @property
    def id(self) -> str:
        return str(self.control)

    @property
    def done(self) -> bool:
        """Whether a mitigation that implements it is done."""
        return any(u.mitigation.status is MitigationStatus.DONE for u in self.uses)


@dataclass(frozen=True)
class Framework:
    """The controls named under one namespace and version (e.g. asvs:4.0.3)."""

    namespace: str
    version: str | None
    controls: tuple[Control, ...]

    @property
    def id(self) -> str:
        return f"{self.namespace}:{self.version}" if self.version else self.namespace

    @property
    def name(self) -> str:
        name = FRAMEWORK_NAMES.get(self.namespace, self.namespace)
        return f"{name} {self.version}" if self.version else name


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that orders the numbers in a text by value: A.8.9 before A.8.10."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.lower())
        for part in re.findall(r"\d+|\D+", text)
    )


def control_frameworks(portfolio: Portfolio) -> list[Framework]:
    """Every framework the models' mitigations name, by namespace and version."""
    uses: dict[tuple[str, str | None], dict[str, list[ControlUse]]] = {}
    for loaded in portfolio.models:
        model = loaded.model
        links = portfolio.links(model)
        for mitigation in model.mitigations:
            if not mitigation.controls:
                continue
            threats = tuple(
                sorted(
                    (portfolio.rated(model, t) for t in links.threats_of(mitigation)),
                    key=lambda r: (-r.threat.risk, r.threat.id),
                )
            )
            use = ControlUse(model, mitigation, threats)
            for text in mitigation.controls:
                control = ControlId.parse(text)
                key = (control.namespace, control.version)
                uses.setdefault(key, {}).setdefault(control.identifier, []).append(use)
    frameworks = []
    for (namespace, version), by_identifier in uses.items():
        controls = tuple(
            Control(
                ControlId(namespace, version, identifier),
                tuple(sorted(found, key=lambda u: (u.model.id, u.mitigation.id))),
            )
            for identifier, found in sorted(by_identifier.items(), key=lambda i: _natural(i[0]))
        )
        frameworks.append(Framework(namespace, version, controls))
    return sorted(frameworks, key=lambda f: (f.namespace, _natural(f.version or "")))
