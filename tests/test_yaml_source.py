"""Safe YAML reading: what is refused, what is kept, and where values came from."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tm_docs.load import yaml_source
from tm_docs.load.yaml_source import parse_document, read_document


def test_positions_of_keys_and_values_are_one_based() -> None:
    doc = parse_document("a: 1\nlist:\n  - x: hello\n", "f.yaml")
    assert doc.problems == []
    assert doc.data == {"a": 1, "list": [{"x": "hello"}]}
    assert doc.source.values[("list", 0, "x")] == yaml_source.Position(3, 8)
    assert doc.source.keys[("list", 0, "x")] == yaml_source.Position(3, 5)
    # A path that is not in the document falls back to its nearest ancestor.
    assert doc.source.locate(("list", 0, "missing")) == yaml_source.Position(3, 5)


def test_object_construction_tag_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"title: !!python/object/apply:os.system ['touch {marker}']\n"
    doc = parse_document(text, "f.yaml")
    assert doc.data is None
    assert "not allowed in model files" in doc.problems[0].message
    assert not marker.exists()


def test_anchors_and_merge_keys_within_budget_work() -> None:
    text = (
        "defaults: &d {kind: process, owner: team-a}\n"
        "a: {<<: *d, id: a}\n"
        "b: {<<: *d, id: b, kind: queue}\n"
    )
    doc = parse_document(text, "f.yaml")
    assert doc.problems == []
    assert doc.data["a"] == {"kind": "process", "owner": "team-a", "id": "a"}
    # Keys written in the mapping win over merged ones, and that is no duplicate.
    assert doc.data["b"]["kind"] == "queue"


def test_alias_expansion_is_capped(monkeypatch) -> None:
    monkeypatch.setattr(yaml_source, "MAX_NODES", 50)
    text = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: [*a, *a, *a, *a, *a]\n"
    doc = parse_document(text, "f.yaml")
    assert doc.data is None
    assert "expands to more than 50 values" in doc.problems[0].message


def test_size_cap_is_enforced_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("description: '" + "x" * yaml_source.MAX_FILE_BYTES + "'\n")
    doc = read_document(path, "big.yaml")
    assert doc.data is None
    (problem,) = doc.problems
    assert (problem.line, problem.column) == (1, 1)
    assert "model files may be at most 1,048,576 bytes" in problem.message


def test_utf8_with_bom_and_non_ascii_text_are_read(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_bytes("\ufefftitle: Zahlungsdienst für Bestellungen ✓\n".encode())
    doc = read_document(path, "m.yaml")
    assert doc.problems == []
    assert doc.data == {"title": "Zahlungsdienst für Bestellungen ✓"}


def test_dates_are_dates_and_impossible_dates_stay_text() -> None:
    doc = parse_document("good: 2026-11-01\nbad: 2026-13-01\n", "f.yaml")
    assert doc.data == {"good": dt.date(2026, 11, 1), "bad": "2026-13-01"}


def test_all_duplicate_keys_are_reported_and_first_value_kept() -> None:
    doc = parse_document("a: 1\nb: 2\na: 3\nb: 4\n", "f.yaml")
    assert doc.data == {"a": 1, "b": 2}
    assert [(p.line, p.column) for p in doc.problems] == [(3, 1), (4, 1)]
    assert all("duplicate key" in p.message for p in doc.problems)


@pytest.mark.parametrize("depth", [100, 5000])
def test_deep_nesting_is_refused_without_a_traceback(depth: int) -> None:
    doc = parse_document("a: " + "[" * depth + "]" * depth + "\n", "f.yaml")
    assert doc.data is None
    assert len(doc.problems) == 1 and "nest" in doc.problems[0].message


def test_symbolic_links_are_refused_without_reading_the_target(tmp_path: Path) -> None:
    secret = tmp_path / "token.txt"
    secret.write_text("ghp_SECRETTOKEN\n")
    link = tmp_path / "leak.yaml"
    link.symlink_to(secret)
    doc = read_document(link, "models/leak.yaml")
    assert doc.data is None
    (problem,) = doc.problems
    assert "symbolic link" in problem.message
    assert "SECRET" not in problem.message


def test_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    # A sparse file: 16 GiB long, no disk used. Reading it would exhaust memory.
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(16 * 1024**3)
    doc = read_document(path, "huge.yaml")
    assert doc.data is None
    assert "17,179,869,184 bytes" in doc.problems[0].message
