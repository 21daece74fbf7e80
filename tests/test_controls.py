"""Controls on mitigations: the grammar, the grouping by framework, the page."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tm_docs.analysis.controls import control_frameworks
from tm_docs.analysis.portfolio import Portfolio
from tm_docs.analysis.report import analyse
from tm_docs.analysis.rules import RuleSet
from tm_docs.analysis.settings import Settings
from tm_docs.load.models import LoadedModel
from tm_docs.model import ControlId, Mitigation, ThreatModel
from tm_docs.render.pages import render_site


def _mitigation(controls: list[Any], **extra: Any) -> Mitigation:
    return Mitigation.model_validate(
        {"id": "M1", "title": "m", "owner": "team", "controls": controls, **extra}
    )


@pytest.mark.parametrize(
    "control",
    [
        "asvs:4.0.3:V5.3.4",
        "asvs:5.0:V6.2.1",
        "asvs:V14.2.1",
        "nist-800-53:AC-3",
        "nist-800-53:rev5:AC-2(1)",
        "iso-27001:A.8.5",
        "iso-27001:2013:A.9.4.1",
        "cwe:287",
        "capec:112",
        "pci-dss:4.0:8.3.1",
        "soc2:CC6.1",  # a namespace tm-docs does not know: the general shape only
        "internal-policy:2024-1:SEC/7",
    ],
)
def test_control_ids_of_the_grammar_are_accepted(control: str) -> None:
    assert _mitigation([control]).controls == [control]
    parsed = ControlId.parse(control)
    assert str(parsed) == control and parsed.identifier == control.rsplit(":", 1)[1]


@pytest.mark.parametrize(
    ("control", "says"),
    [
        ("AC-3", "is not a control id"),
        ("a:b:c:d", "is not a control id"),
        ("Asvs:V5.3.4", "write 'asvs:V5.3.4'"),
        ("-x:1", "the namespace '-x'"),
        ("asvs::V5.3.4", "the version ''"),
        ("x:has space", "the identifier 'has space'"),
        ("asvs:4.0.3:5.3.4", "is not an identifier of asvs"),
        ("nist-800-53:AC3", "is not an identifier of nist-800-53"),
        ("iso-27001:A8.5", "is not an identifier of iso-27001"),
        ("cwe:CWE-79", "is not an identifier of cwe"),
        ("x:" + "a" * 65, "the identifier"),
    ],
)
def test_malformed_control_ids_say_how_to_write_them(control: str, says: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _mitigation([control])
    assert says in str(caught.value)


def test_a_control_listed_twice_is_an_error() -> None:
    with pytest.raises(ValidationError, match="lists 'cwe:287' twice"):
        _mitigation(["cwe:287", "cwe:287"])


def _model(model_id: str, mitigations: list[dict[str, Any]]) -> LoadedModel:
    model = ThreatModel.model_validate(
        {
            "format_version": 1,
            "id": model_id,
            "title": model_id.title(),
            "owner": "team",
            "components": [{"id": "api", "title": "API", "kind": "process"}],
            "threats": [
                {
                    "id": "T1",
                    "title": "Low <img src=x onerror=alert(1)> risk",
                    "categories": ["spoofing"],
                    "targets": ["api"],
                    "impact": 1,
                    "likelihood": 2,
                },
                {
                    "id": "T2",
                    "title": "High risk",
                    "categories": ["tampering"],
                    "targets": ["api"],
                    "impact": 5,
                    "likelihood": 4,
                },
            ],
            "mitigations": mitigations,
        }
    )
    return LoadedModel(model, model_id + ".yaml", f"models/{model_id}.yaml")  # type: ignore[arg-type]


MODELS = [
    _model(
        "shop",
        [
            {
                "id": "M2",
                "title": "Two",
                "owner": "a",
                "threats": ["T1", "T2"],
                "status": "done",
                "controls": ["asvs:4.0.3:V1.2.10", "asvs:4.0.3:V1.2.9", "x-fw:b"],
            },
            {
                "id": "M1",
                "title": "One",
                "owner": "a",
                "threats": ["T1"],
                "controls": ["asvs:4.0.3:V1.2.9", "asvs:5.0:V1.1.1"],
            },
            {"id": "M3", "title": "None", "owner": "a"},
        ],
    ),
    _model(
        "admin",
        [{"id": "M9", "title": "Nine", "owner": "b", "controls": ["asvs:4.0.3:V1.2.9"]}],
    ),
]


def test_controls_group_by_framework_in_natural_order() -> None:
    frameworks = control_frameworks(Portfolio(MODELS))
    assert [(f.id, f.name) for f in frameworks] == [
        ("asvs:4.0.3", "OWASP ASVS 4.0.3"),
        ("asvs:5.0", "OWASP ASVS 5.0"),
        ("x-fw", "x-fw"),
    ]
    asvs = frameworks[0]
    # V1.2.9 before V1.2.10; each control's mitigations by model, then id.
    assert [(c.control.identifier, [(u.model.id, u.mitigation.id) for u in c.uses])
            for c in asvs.controls] == [
        ("V1.2.9", [("admin", "M9"), ("shop", "M1"), ("shop", "M2")]),
        ("V1.2.10", [("shop", "M2")]),
    ]  # fmt: skip
    # The threats a mitigation addresses, riskiest first; a control is done by a done one.
    two = asvs.controls[1].uses[0]
    assert [t.threat.id for t in two.threats] == ["T2", "T1"]
    assert [c.done for c in asvs.controls] == [True, True]
    assert frameworks[1].controls[0].done is False


def test_the_controls_page_lists_each_use_with_links_and_escaped_titles() -> None:
    report = analyse(MODELS, Settings(), RuleSet(()))
    files = {f.path: f.content for f in render_site(report)}
    page = files["threat-models/controls.md"]
    assert str(page).count('| <span class="tm-id') == 6  # one row per control and mitigation
    assert "(shop/index.md#mitigation-M2)" in page
    assert "(shop/index.md#threat-T2)" in page
    assert "onerror" not in page and "<img" not in page  # sanitised, as on every page
    assert page.index("V1.2.9") < page.index("V1.2.10")
    assert "threat-models/controls.csv" in files and "threat-models/controls.json" in files


def test_without_controls_the_page_says_how_to_add_them() -> None:
    report = analyse([_model("shop", [])], Settings(), RuleSet(()))
    page = {f.path: f.content for f in render_site(report)}["threat-models/controls.md"]
    assert "No mitigation names a control yet" in page
