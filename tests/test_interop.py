"""Importing other tools' models and exporting OTM, on the real sample files.

The samples live beside the repository (`../shared/interop-samples/`, with their
origins and licences); the tests skip with a reason when that folder is absent.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from tm_docs.cli import main
from tm_docs.interop import otm
from tm_docs.interop.common import ImportFailure
from tm_docs.interop.run import export_text, import_model
from tm_docs.load.models import load_file, load_models

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO.parent / "shared" / "interop-samples"
needs_samples = pytest.mark.skipif(
    not SAMPLES.is_dir(), reason="the interop samples folder ../shared/interop-samples is absent"
)

IMPORTABLE = [
    ("otm", "otm/EXAMPLE.yaml"),
    ("otm", "otm/EXAMPLE.json"),
    ("otm", "threat-dragon/example-open-threat-model.otm.json"),
    ("threat-dragon", "threat-dragon/e2e-v2-model.json"),
    ("threat-dragon", "threat-dragon/three-tier-web-app.json"),
    ("threagile", "threagile/stub-threagile.yaml"),
    ("pytm", "pytm/input.json"),
]


def _otm_schema() -> dict[str, Any]:
    return json.loads((SAMPLES / "otm" / "otm_schema.json").read_text(encoding="utf-8"))


def _source_count(fmt: str, data: Any) -> int:
    """Elements of the source file that must each be imported or named in a warning."""
    if fmt == "otm":
        keys = ("trustZones", "components", "dataflows", "assets", "threats", "mitigations")
        return sum(len(data.get(k) or []) for k in keys)
    if fmt == "threat-dragon":
        return sum(len(d["cells"]) for d in data["detail"]["diagrams"])
    if fmt == "pytm":
        return sum(len(data.get(k) or []) for k in ("boundaries", "data", "elements", "flows"))
    return 0


@needs_samples
@pytest.mark.parametrize(("fmt", "name"), IMPORTABLE)
def test_every_sample_imports_to_a_valid_model_and_nothing_is_dropped_silently(
    fmt: str, name: str, tmp_path: Path
) -> None:
    _, text, report = import_model(fmt, SAMPLES / name)
    out = tmp_path / "imported.yaml"
    out.write_text(text, encoding="utf-8")
    loaded, problems = load_file(out)
    assert loaded is not None, problems
    assert not [p for p in problems if p.severity.value == "error"]
    # every warning names the element of the source it is about
    assert all(note.element and "'" in note.element for note in report)
    # every invented value is marked in the model for a person to check
    if report.of("invented"):
        assert "tm-docs.review" in text
    if name.endswith(".json") and fmt != "threagile":
        data = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
        imported = sum(n for k, n in report.imported.items() if k not in ("threats", "mitigations"))
        if fmt == "otm":
            imported += report.imported.get("threats", 0) + report.imported.get("mitigations", 0)
        dropped = {n.element for n in report if "not imported" in n.message}
        assert imported + len(dropped) >= _source_count(fmt, data)


@needs_samples
def test_otm_import_keeps_numbers_states_and_ids() -> None:
    model, _, report = import_model("otm", SAMPLES / "otm" / "EXAMPLE.yaml")
    zones = {b.title: b for b in model.boundaries}
    assert zones["Internet"].attributes["otm.trustRating"] == "20"
    (threat,) = model.threats
    assert (threat.impact, threat.likelihood) == (5, 3)
    assert set(threat.targets) == {"web-service", "cc-store-in-db"}
    mitigation = next(m for m in model.mitigations if m.threats)
    assert mitigation.risk_reduction == 50
    # implemented on the component, required on the flow: folded to the least advanced
    assert mitigation.status.value == "proposed"
    states = {k: v for k, v in mitigation.attributes.items() if k.startswith("otm.state.")}
    assert sorted(states.values()) == ["implemented", "required"]
    assert any("folded" in n.message and "mitigation" in n.element for n in report)
    assert any("owner" in n.message for n in report.of("invented"))


@needs_samples
@pytest.mark.parametrize("name", ["otm/EXAMPLE.yaml", "otm/EXAMPLE.json"])
def test_otm_round_trip_validates_and_keeps_ids_titles_and_numbers(
    name: str, tmp_path: Path
) -> None:
    original = otm.read_structured(SAMPLES / name, name)
    _, text, _ = import_model("otm", SAMPLES / name)
    model_file = tmp_path / "m.yaml"
    model_file.write_text(text, encoding="utf-8")
    exported = json.loads(export_text(model_file, "json"))
    jsonschema.validate(exported, _otm_schema())
    for key in ("trustZones", "components", "dataflows", "assets", "threats", "mitigations"):
        before = {e["id"]: e["name"] for e in original[key]}
        after = {e["id"]: e["name"] for e in exported[key] if e["id"] != otm.OUTSIDE_ZONE}
        assert after == before, key
    zones = {z["id"]: z["risk"]["trustRating"] for z in exported["trustZones"]}
    assert zones == {z["id"]: z["risk"]["trustRating"] for z in original["trustZones"]}
    assert exported["threats"][0]["risk"] == {
        k: v
        for k, v in original["threats"][0]["risk"].items()
        if k in exported["threats"][0]["risk"]
    }
    states = {
        c["id"]: c["threats"][0]["mitigations"][0]["state"]
        for c in exported["components"] + exported["dataflows"]
        if c.get("threats")
    }
    assert states == {"web-service": "implemented", "cc-store-in-db": "required"}


@needs_samples
@pytest.mark.parametrize("model_name", ["checkout", "identity", "notifications", "tm-docs"])
def test_example_models_export_to_valid_otm_and_import_back_field_by_field(
    model_name: str, tmp_path: Path
) -> None:
    source = REPO / "models" / f"{model_name}.yaml"
    before, _ = load_file(source)
    assert before is not None
    document = json.loads(export_text(source, "json"))
    jsonschema.validate(document, _otm_schema())
    otm_file = tmp_path / "m.otm.json"
    otm_file.write_text(json.dumps(document), encoding="utf-8")
    after, _, _ = import_model("otm", otm_file)
    assert [(b.id, b.title, b.trust, b.parent) for b in after.boundaries] == [
        (b.id, b.title, b.trust, b.parent) for b in before.boundaries
    ]
    assert [
        (c.id, c.title, c.kind, c.boundary, c.owner, c.technology) for c in after.components
    ] == [(c.id, c.title, c.kind, c.boundary, c.owner, c.technology) for c in before.components]
    assert [(f.id, f.source, f.destination, f.bidirectional) for f in after.flows] == [
        (f.id, f.source, f.destination, f.bidirectional) for f in before.flows
    ]
    # the security facts the rules read come back too
    facts = {"id", "kind", "encrypted", "signed", "delivers", "authentication", "accepts"}
    facts |= {"escapes_input", "secrets_in_vault", "hardened", "pinned_dependencies"}
    facts |= {"audit_log", "logs_sensitive_data", "privileged", "rate_limited"}
    facts |= {"encrypted_at_rest", "bounded_consumption", "delivery_role", "deployment"}

    def security(element: Any) -> dict[str, Any]:
        dumped = element.model_dump(include=facts, exclude_none=True)
        if dumped.get("authentication"):
            dumped["authentication"].pop("note", None)
        return dumped

    assert [security(c) for c in after.components] == [security(c) for c in before.components]
    assert [security(f) for f in after.flows] == [security(f) for f in before.flows]
    assert [(a.id, a.title, a.kind, a.classification) for a in after.assets] == [
        (a.id, a.title, a.kind, a.classification) for a in before.assets
    ]
    assert [
        (t.id, t.title, t.categories, set(t.targets), t.impact, t.likelihood, t.status)
        for t in after.threats
    ] == [
        (t.id, t.title, t.categories, set(t.targets), t.impact, t.likelihood, t.status)
        for t in before.threats
    ]
    assert [
        (m.id, m.title, m.owner, m.status, m.risk_reduction, m.controls) for m in after.mitigations
    ] == [
        (m.id, m.title, m.owner, m.status, m.risk_reduction, m.controls) for m in before.mitigations
    ]


@needs_samples
def test_cli_never_overwrites_without_force(tmp_path: Path) -> None:
    out = tmp_path / "model.yaml"
    out.write_text("keep me\n", encoding="utf-8")
    runner = CliRunner()
    sample = str(SAMPLES / "pytm" / "input.json")
    refused = runner.invoke(main, ["import", "pytm", sample, "-o", str(out)])
    assert refused.exit_code == 1
    assert "--force" in refused.output
    assert out.read_text(encoding="utf-8") == "keep me\n"
    forced = runner.invoke(main, ["import", "pytm", sample, "-o", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "imported 10 elements" in forced.output
    assert out.read_text(encoding="utf-8").count("format_version: 1") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["model.yaml"]  # no temporary left behind


def test_deeply_nested_input_is_refused_clearly(tmp_path: Path) -> None:
    hostile = tmp_path / "deep.json"
    hostile.write_text('{"otmVersion": "0.2.0", "project": ' + "[" * 5000 + "]" * 5000 + "}")
    with pytest.raises(ImportFailure, match="nested more than"):
        import_model("otm", hostile)


def test_huge_input_is_refused_clearly(tmp_path: Path) -> None:
    hostile = tmp_path / "huge.json"
    hostile.write_bytes(b'{"otmVersion": "0.2.0", "x": "' + b"a" * (5 * 1024 * 1024) + b'"}')
    with pytest.raises(ImportFailure, match="bytes"):
        import_model("otm", hostile)


def test_pytm_source_is_never_run(tmp_path: Path) -> None:
    program = tmp_path / "tm.py"
    marker = tmp_path / "ran"
    program.write_text(f"open({str(marker)!r}, 'w').write('x')\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["import", "pytm", str(program)])
    assert result.exit_code == 1
    assert "never runs" in result.output
    assert not marker.exists()


def test_script_and_control_characters_in_names_stay_text(tmp_path: Path) -> None:
    source = tmp_path / "x.otm.json"
    source.write_text(
        json.dumps(
            {
                "otmVersion": "0.2.0",
                "project": {"name": "<script>alert(1)</script>\u2028x", "id": "index"},
                "trustZones": [],
                "components": [
                    {"id": "a b/../c", "name": "A\x1b[31m", "type": "x", "parent": "nowhere"}
                ],
                "dataflows": [{"id": "f", "name": "f", "source": "a b/../c", "target": "zzz"}],
            }
        ),
        encoding="utf-8",
    )
    model, text, report = import_model("otm", source)
    assert model.id != "index"  # a reserved page name is not taken
    assert model.title.startswith("<script>")  # kept as text; the site escapes it
    assert "\x1b" not in text and "\u2028" not in text
    (component,) = model.components
    assert component.id == "a-b-c" and component.attributes["otm.id"] == "a b/../c"
    assert any("dataflow 'f'" in n.element and "not imported" in n.message for n in report)
    assert any("nowhere" in n.message for n in report)


def test_not_a_model_of_the_format_is_a_clear_error(tmp_path: Path) -> None:
    source = tmp_path / "x.json"
    source.write_text("[1, 2, 3]", encoding="utf-8")
    for fmt in ("otm", "threat-dragon", "pytm"):
        with pytest.raises(ImportFailure, match="not a"):
            import_model(fmt, source)
    broken = tmp_path / "broken.json"
    broken.write_text('{"otmVersion": ', encoding="utf-8")
    with pytest.raises(ImportFailure, match=r"broken.json:1:\d+: not valid JSON"):
        import_model("otm", broken)


def test_diff_reports_changes_of_the_new_fields() -> None:
    from tm_docs.analysis.diff import diff_models
    from tm_docs.analysis.risk import RiskBands
    from tm_docs.model import ThreatModel

    base = {
        "format_version": 1,
        "id": "m",
        "title": "M",
        "owner": "o",
        "components": [{"id": "c", "title": "C", "kind": "process"}],
        "assets": [{"id": "a", "title": "A", "kind": "secret", "classification": "internal"}],
    }
    changed = json.loads(json.dumps(base))
    changed["tags"] = ["pci"]
    changed["components"][0]["out_of_scope"] = {"reason": "vendor"}
    changed["components"][0]["attributes"] = {"otm.type": "x"}
    changed["assets"][0]["availability"] = "restricted"
    result = diff_models(
        ThreatModel.model_validate(base), ThreatModel.model_validate(changed), RiskBands()
    )
    details = {c.kind: " ".join(c.details) for c in result.changes}
    assert "tags" in details["model"] and "pci" in details["model"]
    assert "out_of_scope" in details["component"] and "otm.type" in details["component"]
    assert "availability: not set → restricted" in details["asset"]


@needs_samples
def test_imported_samples_build_into_the_site(tmp_path: Path) -> None:
    import yaml

    from .sites import build, make_site

    models = tmp_path / "imported"
    models.mkdir()
    seen: set[str] = set()
    for fmt, name in IMPORTABLE:
        _, text, _ = import_model(fmt, SAMPLES / name)
        model_id = yaml.safe_load(text)["id"]
        if model_id in seen:  # the same model in two encodings (OTM YAML and JSON)
            continue
        seen.add(model_id)
        (models / f"{model_id}.yaml").write_text(text, encoding="utf-8")
    site = tmp_path / "site"
    make_site(site, models)
    for path in (site / "models").glob("*.yaml"):
        if path.stem not in seen:
            path.unlink()  # only the imported models
    proc = build(site / "mkdocs.yml", "--strict")
    assert proc.returncode == 0, proc.stderr
    for model_id in seen:
        assert (site / "site" / "threat-models" / model_id / "index.html").is_file()
        assert (site / "site" / "threat-models" / model_id / "dfd.svg").is_file()


@needs_samples
def test_cli_imports_many_files_into_a_folder_and_names_the_one_that_fails(
    tmp_path: Path,
) -> None:
    dragon = SAMPLES / "threat-dragon"
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    sources = [dragon / "three-tier-web-app.json", dragon / "e2e-v2-model.json", broken]
    out = tmp_path / "models"
    result = CliRunner().invoke(
        main, ["import", "threat-dragon", *map(str, sources), "-o", str(out)]
    )
    assert result.exit_code == 1
    assert "1 of 3 files could not be imported" in result.output
    assert "broken.json:1:2: not valid JSON" in result.output
    written = sorted(p.name for p in out.iterdir())
    assert written == ["e2e-v2-model.yaml", "three-tier-web-app.yaml"]
    assert load_models([out]).ok
    # No bar in a pipe: every line is a message of its own.
    assert "\r" not in result.output and "importing files" not in result.output
    # Several sources need a folder to go to.
    refused = CliRunner().invoke(main, ["import", "threat-dragon", *map(str, sources[:2])])
    assert refused.exit_code == 2 and "--output FOLDER" in refused.output


def test_cli_imports_many_otm_files_quietly_in_a_pipe(tmp_path: Path) -> None:
    # The repository's own models as OTM files (no samples needed), and one that is not JSON.
    sources = []
    for name in ("checkout", "identity", "notifications"):
        source = tmp_path / f"{name}.otm.json"
        source.write_text(export_text(REPO / "models" / f"{name}.yaml", "json"), encoding="utf-8")
        sources.append(source)
    broken = tmp_path / "broken.otm.json"
    broken.write_text("[1, 2", encoding="utf-8")
    sources.insert(1, broken)
    out = tmp_path / "models"
    result = CliRunner().invoke(main, ["import", "otm", *map(str, sources), "-o", str(out)])
    assert result.exit_code == 1
    assert "1 of 4 files could not be imported" in result.output
    assert "broken.otm.json:1:" in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "checkout.otm.yaml",
        "identity.otm.yaml",
        "notifications.otm.yaml",
    ]
    loaded = load_models([out])
    assert loaded.ok and sorted(m.model.id for m in loaded.models) == [
        "checkout",
        "identity",
        "notifications",
    ]
    # CliRunner's output is not a terminal: no progress bar, one message a line.
    assert "\r" not in result.output and "importing files" not in result.output


@needs_samples
def test_two_sources_with_one_model_id_do_not_both_land_in_the_folder(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for copy in (first, second):
        shutil.copyfile(SAMPLES / "otm" / "EXAMPLE.json", copy)
    out = tmp_path / "models"
    result = CliRunner().invoke(main, ["import", "otm", str(first), str(second), "-o", str(out)])
    assert result.exit_code == 1
    assert "b.json: its model id 'test-project' is already the id of" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["a.yaml"]
    assert load_models([out]).ok  # what was written is a folder of valid models


@needs_samples
def test_controls_in_otm_that_break_the_grammar_are_kept_as_lossy(tmp_path: Path) -> None:
    source = REPO / "models" / "checkout.yaml"
    document = json.loads(export_text(source, "json"))
    mitigation = document["mitigations"][0]
    mitigation["attributes"]["tm-docs.controls"] = "cwe:287 NIST:ac-3 cwe:287"
    otm_file = tmp_path / "m.otm.json"
    otm_file.write_text(json.dumps(document), encoding="utf-8")
    model, _, report = import_model("otm", otm_file)
    imported = next(m for m in model.mitigations if m.id == mitigation["id"])
    assert imported.controls == ["cwe:287"]  # the valid one, once
    assert any("NIST:ac-3" in n.message for n in report.of("lossy"))
    assert imported.attributes["otm.controls"] == "cwe:287 NIST:ac-3 cwe:287"
