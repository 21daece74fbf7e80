"""Loading models: the examples, the guide's annotated example, and cross-file rules."""

from __future__ import annotations

from pathlib import Path

from tm_docs.load.models import MAX_PROBLEMS_PER_FILE, discover, load_file, load_models
from tm_docs.model import MAX_ITEMS, MitigationStatus, Stride, ThreatStatus

from .conftest import EXAMPLE_MODELS, REPO

ANNOTATED = REPO / "tests" / "fixtures" / "annotated-example.yaml"
GUIDE = REPO / "docs" / "guide" / "format.md"


def test_example_models_are_valid_and_cover_the_article() -> None:
    result = load_models([EXAMPLE_MODELS])
    assert [str(p) for p in result.problems] == []
    assert len(result.models) >= 2
    checkout = next(m.model for m in result.models if m.model.id == "checkout")
    titles = {c.title.lower() for c in checkout.components}
    assert {"api gateway", "order service", "payments queue"} <= titles
    scores = {t.title.lower(): (t.impact, t.likelihood, t.categories) for t in checkout.threats}
    assert scores["forged jwt with missing audience validation"] == (5, 4, [Stride.SPOOFING])
    assert scores["unsigned webhook payloads"] == (4, 3, [Stride.TAMPERING])
    assert scores["unbounded fan-out on queue consumers"] == (3, 4, [Stride.DENIAL_OF_SERVICE])
    # Site-wide views need variety: every category and several statuses appear.
    every = [t for loaded in result.models for t in loaded.model.threats]
    assert {c for t in every for c in t.categories} == set(Stride)
    assert {ThreatStatus.OPEN, ThreatStatus.MITIGATED, ThreatStatus.ACCEPTED} <= {
        t.status for t in every
    }
    mitigations = [m for loaded in result.models for m in loaded.model.mitigations]
    assert {MitigationStatus.DONE, MitigationStatus.PLANNED} <= {m.status for m in mitigations}


def test_guide_shows_the_annotated_example_verbatim_and_it_is_valid() -> None:
    model, problems = load_file(ANNOTATED)
    assert problems == [] and model is not None
    assert ANNOTATED.read_text(encoding="utf-8").strip() in GUIDE.read_text(encoding="utf-8")


def test_every_problem_of_every_file_is_reported_sorted(write_model) -> None:
    write_model("ownr: x\ncolour: red\n", name="b.yaml", model_id="b")
    write_model("reviewers: nobody\n", name="a.yaml", model_id="a")
    folder = write_model("", name="c.yaml", model_id="c").parent
    result = load_models([folder])
    assert [str(p).replace(str(folder) + "/", "") for p in result.problems] == [
        "a.yaml:5:12: reviewers: expected a list, got the text 'nobody'; write items as "
        "'- item' lines or [a, b]",
        "b.yaml:5:1: unknown key 'ownr' (did you mean 'owner'?)",
        "b.yaml:6:1: unknown key 'colour'; allowed keys: format_version, id, title, "
        "description, owner, reviewers, review, scope, watch, boundaries, components, flows, "
        "assets, threats, mitigations, not_applicable, dismissed, tags, attributes",
    ]
    assert [m.model.id for m in result.models] == ["c"]
    assert not result.ok


def test_model_ids_are_unique_across_files(write_model) -> None:
    write_model(name="one.yaml", model_id="same")
    second = write_model(name="two.yaml", model_id="same")
    result = load_models([second.parent])
    (problem,) = result.problems
    assert problem.file.endswith("two.yaml")
    assert (problem.line, problem.column) == (2, 5)  # at the id
    assert "model id 'same' is already used by" in problem.message
    assert problem.message.split("used by ")[1].split(";")[0].endswith("one.yaml")


def test_discovery_is_recursive_sorted_and_skips_hidden(tmp_path: Path) -> None:
    for name in ("b.yaml", "team/a.yml", ".drafts/x.yaml", "notes.md", "team/.hidden.yaml"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x: 1\n")
    assert [p.relative_to(tmp_path).as_posix() for p in discover([tmp_path]).files] == [
        "b.yaml",
        "team/a.yml",
    ]


def test_models_are_frozen(write_model) -> None:
    model, _ = load_file(write_model())
    assert model is not None
    try:
        model.title = "changed"  # type: ignore[misc]
    except Exception as exc:  # pydantic raises ValidationError for frozen models
        assert "frozen" in str(exc)
    else:
        raise AssertionError("models must be immutable")


def test_problems_of_one_file_are_capped_with_a_count(write_model) -> None:
    flows = "".join(
        f"  - {{id: f{i}, source: nowhere{i}, destination: nowhere{i}}}\n" for i in range(80)
    )
    result = load_models([write_model("flows:\n" + flows)])
    assert len(result.problems) == MAX_PROBLEMS_PER_FILE + 1
    assert result.problems[-1].message == "... and 60 more problems in this file"


def test_too_many_elements_are_refused(write_model) -> None:
    components = "".join(
        f"  - {{id: c{i}, title: C, kind: process}}\n" for i in range(MAX_ITEMS["components"] + 1)
    )
    model, problems = load_file(write_model("components:\n" + components))
    assert model is None
    (problem,) = problems
    assert problem.message == (
        "components: has 201 entries; at most 200 are allowed in one model "
        "(split the system into several models)"
    )
