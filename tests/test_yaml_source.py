"""Safe YAML reading: what is refused, what is kept, and where values came from."""

from __future__ import annotations

import datetime as dt
import random
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


_TESTS = Path(__file__).resolve().parent
_READINGS = [
    *sorted((_TESTS / "malformed").glob("*.yaml")),
    *sorted((_TESTS.parent / "models").glob("*.yaml")),
]
_INLINE = [
    "base: &b {x: 1, y: [a, b]}\nthis:\n  <<: *b\n  y: 2\nmore: [*b, *b]\n",
    "a: &s [1, 2]\nb: {<<: [{p: 1}, {p: 2, q: 3}], q: 4}\nc: *s\n",
    "1: one\n2026-01-01: day\nnull: nothing\ntrue: yes\n3.5: x\n",
    "a: {b: 1, b: 2}\nc: [x, {d: 1, d: 1}]\n",
    "when: 2026-13-01\nat: 2026-01-01 10:00:00\nn: 0x1f\nf: .inf\nq: '1'\n",
    "deep: " + "[" * 70 + "]" * 70 + "\n",
    "big: 1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17:18\n",
]


@pytest.mark.parametrize(
    "text",
    [*(p.read_bytes() for p in _READINGS), *(t.encode() for t in _INLINE)],
    ids=[*(p.name for p in _READINGS), *(f"inline-{i}" for i in range(len(_INLINE)))],
)
def test_the_reading_without_positions_makes_the_same_data_and_problems(text: bytes) -> None:
    """`parse_document` reads without recording positions (`plain`); the positions are
    recorded by `build` when a message asks.  Both must make the same data, stop at the
    same problem and report the same problems."""
    try:
        nodes = list(yaml_source.yaml.compose_all(text.decode("utf-8"), Loader=yaml_source._LOADER))
    except (UnicodeDecodeError, yaml_source.yaml.YAMLError):
        return  # refused before either reading
    if len(nodes) != 1:
        return

    def reading(positions: bool) -> tuple[object, list[object]]:
        builder = yaml_source._Builder("f.yaml", positions=positions)
        try:
            if positions:
                data = builder.build(nodes[0], (), 0)
            else:
                data = builder.plain(nodes[0], 0)
        except yaml_source._Stop as stop:
            data = stop.problem
        return repr(data), builder.problems

    assert reading(False) == reading(True)


def test_a_tag_depends_on_the_text_and_its_quoting() -> None:
    text = "a: 'yes'\nb: yes\nc: \"1\"\nd: 1\ne: '~'\nf: ~\ng: '2026-01-02'\nh: 2026-01-02\n"
    expected = {"a": "yes", "b": True, "c": "1", "d": 1, "e": "~", "f": None}
    expected |= {"g": "2026-01-02", "h": dt.date(2026, 1, 2)}
    for _ in range(2):
        assert parse_document(text, "f.yaml").data == expected
        assert parse_document(text.replace("'", ""), "f.yaml").data == {
            **expected,
            "a": True,
            "e": None,
            "g": dt.date(2026, 1, 2),
        }


# Texts whose cutting at top-level keys could go wrong: constructs that carry on over a
# key's line, comments and blank lines at a slice's end, anchors in two slices, budgets.
_CUT = [
    'a: "x\nb: y"\n',
    "a: 'x\nb: y'\n",
    "a: [1,\nb: 2]\n",
    "a: {x: 1,\nb: 2}\n",
    'a: "x\\\n  y"\nb: 1\n',
    "a: |+\n  x\n\n\n# c\n\nb: 1\n",
    "a: |+\n  x\n\n# c\n",
    "a: |\n  x\n\n  \n# c\n#d\n\nb: 1\n# e\n",
    "a: >-\n  x\n\n  y\n# c\nb: 2\n",
    "a: plain\n  more\n# c\nb: 1\n",
    "a:\n- 1\n# c\n- 2\nb: 3\n",
    "a:\n# c\n  - 1\nb: 2\n",
    "a: 1 # c\nb: 2 # d\n",
    "# lead\n\nid: x\n",
    "  # indented lead\nid: x\n",
    "  a: 1\n  b: 2\n",
    "a: &x 1\nb: &x 2\n",
    "a: &x 1\nb: *x\n",
    "a: &x [1]\nb: [*x, *x]\n",
    "a: 'R & D'\nb: R&D\n",
    "a: 1\na: 2\n",
    "a: 1\nb: {c: 1, c: 2}\n",
    "a: 1\r\nb: 2\r\n",
    "a: 1\rb: 2\r",
    "a: 1\n---\nb: 2\n",
    "a: 1\n...\n",
    "%YAML 1.1\n---\na: 1\n",
    "yes: 1\nno: 2\nnull: 3\nTrue: 4\n",
    "a: 1\n b: 2\n",
    "a: 1\nb\n",
    "- x\na: 1\n",
    "a: x\n\tb: 2\n",
    "a:\tx\nb: 1\n",
    "a: !!python/object:os.system x\nb: 1\n",
    "a: !!binary aGk=\nb: 1\n",
    "a: 1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17:18\nb: 1\n",
    "<<: {a: 1}\nb: 2\n",
    "a: {<<: {x: 1}, y: 2}\nb: 1\n",
    "a: 2026-13-01\nb: 2026-01-01\n",
    "a: [" + "[" * 70 + "]" * 70 + "]\nb: 1\n",
    "a:\nb:\n",
    "a: 1\n# only a comment after\n",
    "# only comments\n",
    "",
    "a: 1\nb: 2",
    "a: 1\n\n\n",
]
_VERSIONS = [
    *(p.read_bytes().decode("utf-8", "replace") for p in _READINGS),
    *_INLINE,
    *_CUT,
]


def _reading(document: yaml_source.Document) -> tuple[str, list[object]]:
    return repr(document.data), list(document.problems)


@pytest.mark.parametrize("text", _VERSIONS, ids=range(len(_VERSIONS)))
def test_a_reading_by_slices_makes_the_same_data_and_problems(text: str) -> None:
    """`VersionReader` reads a document key by key when it can: the data, the problems
    and the positions must be those of the whole reading, also after other versions."""
    whole = parse_document(text, "f.yaml")
    reader = yaml_source.VersionReader()
    for earlier in ("a: 1\nb: 2\n", text, text):  # the slices of the version before serve
        parse_document(earlier, "f.yaml", reader)
        sliced = parse_document(text, "f.yaml", reader)
        assert _reading(sliced) == _reading(whole)
        if whole.problems:
            continue
        for path in [(), *list(whole.source.values)[:20]]:
            assert sliced.source.locate(path) == whole.source.locate(path)


def test_the_reading_by_slices_reads_again_only_the_keys_that_changed() -> None:
    base = (_TESTS.parent / "models" / "checkout.yaml").read_text(encoding="utf-8")
    renamed = base.replace("title: Checkout\n", "title: Checkout (renamed)\n", 1)
    assert renamed != base
    reader = yaml_source.VersionReader()
    first = parse_document(base, "f.yaml", reader)
    assert reader.sliced == 1 and reader.slices_read == len(first.data)
    again = parse_document(renamed + "# reviewed\n", "f.yaml", reader)
    assert (reader.sliced, reader.slices_read) == (2, len(first.data) + 1)
    assert again.data == {**first.data, "title": "Checkout (renamed)"}
    # A text it does not cut (a line break YAML reads that '\n' does not) is read whole.
    crlf = parse_document(base.replace("\n", "\r\n"), "f.yaml", reader)
    assert reader.sliced == 2 and crlf.data == first.data


@pytest.mark.parametrize("limit", ["MAX_NODES", "MAX_EXPANDED_CHARS"])
def test_the_budgets_hold_for_the_whole_of_a_document_read_by_slices(
    monkeypatch: pytest.MonkeyPatch, limit: str
) -> None:
    """Each slice within the budget, the document over it: the whole reading's problem."""
    text = "a: [xxxx, yyyy]\nb: [zzzz, wwww]\n"  # 7 values, 16 characters of text
    monkeypatch.setattr(yaml_source, limit, 5 if limit == "MAX_NODES" else 12)
    whole = parse_document(text, "f.yaml")
    assert whole.data is None and "expands to more than" in whole.problems[0].message
    reader = yaml_source.VersionReader()
    assert _reading(parse_document(text, "f.yaml", reader)) == _reading(whole)
    assert reader.sliced == 0


def test_edited_versions_read_by_slices_equal_the_whole_reading() -> None:
    """Many edits of the example models and of odd documents (lines deleted, repeated,
    unindented, or odd ones inserted), each read after the one before (as a model's
    versions are), by slices and whole."""
    rng = random.Random(15)
    pieces = ['"', "'", "[", "{", "# c", "- x", "---", "  ", "x: &a 1", "y: *a", "z: |+", "\t"]
    pieces += ["k: 1", "k:", "  - 1", "  q: 2", "? k", "a: 'x", "b: y'", "<<: {m: 1}", ""]
    reader = yaml_source.VersionReader()
    examples = sorted((_TESTS.parent / "models").glob("*.yaml"))
    for source in [*(p.read_text(encoding="utf-8") for p in examples), *_CUT]:
        lines = source.split("\n")
        for _ in range(12 if len(lines) > 100 else 3):
            edited = list(lines)
            for _ in range(rng.randint(1, 3)):
                at = rng.randrange(len(edited))
                action = rng.random()
                if action < 0.3:
                    del edited[at]
                elif action < 0.5:
                    edited.insert(at, edited[at])
                elif action < 0.9:
                    edited.insert(at, rng.choice(pieces))
                else:
                    edited[at] = edited[at].strip()
                edited = edited or [""]
            text = "\n".join(edited)
            whole = parse_document(text, "f.yaml")
            assert _reading(parse_document(text, "f.yaml", reader)) == _reading(whole), text
    assert reader.sliced > 20  # most edits of the examples are read by slices
