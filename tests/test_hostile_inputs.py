"""Inputs a pull request can shape, tried as an attacker would: one case per class at least.

Each test makes a real project (models, rules, a git repository) and runs the
real command line or `mkdocs build`.  What they assert: a clear message that
names the path or line, nothing of a refused file's content echoed, no
traceback, and work that stays within its budget (counted, not timed: the
subprocess timeouts below only keep a broken build from hanging the suite).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from tm_docs.analysis.conditions import OPERATORS, compile_when
from tm_docs.analysis.facts import FACT_VALUES, FACTS
from tm_docs.analysis.globs import compile_glob
from tm_docs.load.yaml_source import MAX_EXPANDED_CHARS, parse_document

from .conftest import EXAMPLE_MODELS, HEADER
from .gitrepo import GitRepo
from .sites import build, make_site

SECRET = "TOP-SECRET-CONTENT-8d1f"  # must never appear in any output
SAFETY_TIMEOUT = 120  # seconds; a hang fails the test instead of the whole suite


def tm_docs(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tm_docs.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=SAFETY_TIMEOUT,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )


def _outside_folder(tmp_path: Path) -> Path:
    """A folder outside the project holding a 'model' whose text must never be shown."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "leak.yaml").write_text(
        HEADER.format(id="leak") + f"description: {SECRET}\nbogus_key: {SECRET}\n"
    )
    return outside


# --- folders and files that are not what they seem --------------------------


def test_models_folder_that_is_a_link_outside_is_refused_by_build_and_cli(
    tmp_path: Path,
) -> None:
    outside = _outside_folder(tmp_path)
    project = tmp_path / "project"
    config = make_site(project, git=False)
    models = project / "models"
    for file in models.iterdir():
        file.unlink()
    models.rmdir()
    models.symlink_to(outside, target_is_directory=True)
    GitRepo(project).commit("a link as models folder", "2026-01-01T00:00:00Z")

    proc = build(config)
    assert proc.returncode == 1
    assert "models:1:1: the models folder is reached through a symbolic link" in proc.stderr
    assert SECRET not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr

    for output_format in ("text", "json", "github"):
        result = tm_docs(project, "validate", "--format", output_format)
        assert result.returncode == 1, result.stderr
        assert "symbolic link" in result.stdout
        assert SECRET not in result.stdout + result.stderr


def test_linked_model_file_and_linked_subfolder_are_named_and_not_read(tmp_path: Path) -> None:
    outside = _outside_folder(tmp_path)
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "ok.yaml").write_text(HEADER.format(id="ok"))
    (project / "models" / "file.yaml").symlink_to(outside / "leak.yaml")
    (project / "models" / "team").symlink_to(outside, target_is_directory=True)
    result = tm_docs(project, "validate")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(
        line.startswith("models/file.yaml:1:1: ") and "symbolic link" in line for line in lines
    )
    assert any(line.startswith("models/team:1:1: ") and "symbolic link" in line for line in lines)
    assert SECRET not in result.stdout + result.stderr


def test_models_folder_outside_the_project_is_refused(tmp_path: Path) -> None:
    outside = _outside_folder(tmp_path)
    project = tmp_path / "project"
    project.mkdir()
    relative = os.path.relpath(outside, project)
    (project / "mkdocs.yml").write_text(
        f"site_name: x\nplugins:\n  - tm-docs:\n      models: {relative}\n"
    )
    result = tm_docs(project, "validate")
    assert result.returncode == 1
    assert "the models folder is outside the project folder" in result.stdout
    assert SECRET not in result.stdout + result.stderr


def test_rules_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "rules-elsewhere"
    outside.mkdir()
    (outside / "r.yaml").write_text(f"rules: [{SECRET}]\n")
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "models" / "m.yaml").write_text(HEADER.format(id="m"))
    (project / "rules").symlink_to(outside, target_is_directory=True)
    (project / "mkdocs.yml").write_text(
        "site_name: x\nplugins:\n  - tm-docs:\n      rules: rules\n"
    )
    result = tm_docs(project, "check")
    assert result.returncode == 1
    assert "rules:1:1: the rules folder is reached through a symbolic link" in result.stdout
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_a_fifo_named_like_a_model_is_refused_without_blocking(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "ok.yaml").write_text(HEADER.format(id="ok"))
    os.mkfifo(models / "pipe.yaml")
    os.mkfifo(models / "rules.yml")
    result = tm_docs(tmp_path, "validate")  # nobody writes to the pipes: opening would block
    assert result.returncode == 1
    assert "models/pipe.yaml:1:1: the file is a named pipe (FIFO)" in result.stdout
    assert "models/rules.yml:1:1: the file is a named pipe (FIFO)" in result.stdout


# --- work that explodes -------------------------------------------------------


def test_aliases_are_budgeted_by_the_text_they_expand_to() -> None:
    # 200 KB of file: one 20,000-character text named once and repeated by alias.
    text = "x" * 19_000
    lines = [f"description: &long '{text}'", "components:"]
    lines += [f"  - {{id: c{i}, title: C, kind: process, description: *long}}" for i in range(500)]
    document = parse_document(HEADER.format(id="m") + "\n".join(lines) + "\n", "m.yaml")
    assert document.data is None
    (problem,) = document.problems
    assert f"more than {MAX_EXPANDED_CHARS:,} characters" in problem.message
    # Stopped at the alias that went over the budget, not after expanding all 500.
    assert problem.line < 5 + MAX_EXPANDED_CHARS // len(text) + 2


def test_backtracking_globs_over_long_paths_finish_and_still_match(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    deep = "/".join(["a" * 30] * 25) + "/" + "a" * 200 + ".py"  # 978 characters
    near = "a" * 60 + "b" * 3
    repo.commit(
        "model",
        "2026-01-01T00:00:00Z",
        {
            "models/m.yaml": HEADER.format(id="m")
            + "watch: ['**/*a*a*', 'a*a*a*/x', '**/**/**', '**/aaa*b']\n",
        },
    )
    repo.commit("code", "2026-02-01T00:00:00Z", {deep: "x\n", near + "/q.txt": "x\n"})
    result = tm_docs(repo.root, "stale", "--format", "json")
    assert result.returncode == 1, result.stderr
    assert '"state": "stale"' in result.stdout
    # Glob matching is linear: its automaton never holds more states than the glob has parts.
    for pattern in ("**/*a*a*", "a*a*a*/x", "**/**/**", "**/aaa*b"):
        glob = compile_glob(pattern)
        assert len(glob.tokens) <= len(pattern)
        assert glob.match(near + "/q.txt") is (pattern == "**/**/**")
        assert glob.match(deep) is (pattern in ("**/*a*a*", "**/**/**"))


@given(
    pattern=st.text(alphabet="ab/*?", max_size=10),
    path=st.text(alphabet="ab/\n", max_size=12),
)
@settings(max_examples=400, deadline=None)
def test_glob_automaton_agrees_with_a_reference_matcher(pattern: str, path: str) -> None:
    glob = compile_glob(pattern)
    assert glob.match(path) is _reference_match(glob.pattern, path)


def _reference_match(pattern: str, path: str) -> bool:
    """A slow, obviously correct matcher over the same syntax (short inputs only)."""
    if not any(c in pattern for c in "*?"):
        return path == pattern or path.startswith(pattern + "/")
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.fullmatch("".join(out), path, flags=re.DOTALL) is not None


def test_a_file_name_with_a_newline_still_matches_watch(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.commit(
        "model",
        "2026-01-01T00:00:00Z",
        {"models/m.yaml": HEADER.format(id="m") + "watch: ['services/**']\n"},
    )
    repo.commit("code", "2026-02-01T00:00:00Z", {"services/evil\nname.py": "x\n"})
    result = tm_docs(repo.root, "stale", "--format", "json")
    assert result.returncode == 1
    assert '"state": "stale"' in result.stdout


def test_a_file_name_that_is_not_utf8_still_matches_watch(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.commit(
        "model",
        "2026-01-01T00:00:00Z",
        {"models/m.yaml": HEADER.format(id="m") + "watch: ['services/**']\n"},
    )
    folder = repo.root / "services"
    folder.mkdir()
    with open(os.path.join(os.fsencode(folder), b"caf\xff.py"), "wb") as handle:
        handle.write(b"x\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "code", date="2026-02-01T00:00:00Z")
    result = subprocess.run(
        [sys.executable, "-m", "tm_docs.cli", "stale", "--format", "json"],
        cwd=repo.root,
        capture_output=True,
        timeout=SAFETY_TIMEOUT,
        check=False,
    )
    assert result.returncode == 1
    text = result.stdout.decode("utf-8")  # strict: JSON output is always valid UTF-8
    assert '"state": "stale"' in text and "caf\\\\xff.py" in text


# --- revisions from the command line ------------------------------------------


@pytest.fixture(scope="module")
def example_repo(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    repo = GitRepo(tmp_path_factory.mktemp("revisions") / "r")
    text = (EXAMPLE_MODELS / "checkout.yaml").read_text()
    repo.commit("checkout", "2026-01-01T00:00:00Z", {"models/checkout.yaml": text})
    return repo


@pytest.mark.parametrize(
    ("revision", "message"),
    [
        ("@{-1}", "'@{-1}' is not a commit of this repository"),
        ("--output=/dev/null", "looks like an option, not a revision"),
        ("-p", "looks like an option, not a revision"),
        ("HEAD\x1b[2J", "is not a revision"),
        ("HEAD~999", "'HEAD~999' is not a commit of this repository"),
        ("main:models/checkout.yaml", "is not a commit of this repository"),
        ("a" * 300, "a revision is 1 to 256 characters"),
        ("", "a revision is 1 to 256 characters"),
    ],
)
def test_revisions_are_checked_before_git_sees_them(
    example_repo: GitRepo, revision: str, message: str
) -> None:
    result = tm_docs(example_repo.root, "diff", "--", revision, "HEAD")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "\x1b" not in result.stderr


# --- rule files: the checker and the matcher accept the same things -----------

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 300),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.sampled_from(
        ["unknown", "none", "jwt", "confidential", "internal", "secret", "audience", "a|b", "|", ""]
    ),
)
_CONDITIONS = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from([*OPERATORS, "bogus"]), inner, min_size=1, max_size=2),
    ),
    max_leaves=8,
)


def _values_of(applies_to: str, fact: str) -> list[Any]:
    """Every value the fact can take, as the facts module computes it."""
    domain = FACT_VALUES[applies_to].get(fact)
    kind = FACTS[applies_to][fact].split(":", 1)[0].split()[0]
    if kind == "set":
        return [set(), set(domain or []), {str((domain or ["x"])[0])}]
    if kind == "number":
        return [0, 1, 7]
    if kind == "text" and domain is None:
        return ["", "postgresql 15", "A|B"]
    return [None, *[v for v in (domain or []) if v != "unknown"]]


@given(
    applies_to=st.sampled_from(["flow", "component"]),
    data=st.data(),
    condition=_CONDITIONS,
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_condition_either_compiles_and_evaluates_or_is_a_problem(
    applies_to: str, data: st.DataObject, condition: Any
) -> None:
    fact = data.draw(st.sampled_from(sorted(FACTS[applies_to])))
    compiled, problems = compile_when(applies_to, {fact: condition})
    if problems:
        assert fact not in compiled
        assert all(isinstance(message, str) and message for _, message in problems)
        return
    for value in _values_of(applies_to, fact):
        assert compiled[fact].holds(value) in (True, False)


def test_rule_conditions_the_old_checker_accepted_are_file_line_errors(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "m.yaml").write_text(
        HEADER.format(id="m") + "components: [{id: a, title: A, kind: process}]\n"
    )
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yaml").write_text(
        "rules:\n"
        "  - id: bad\n    title: Bad\n    applies_to: component\n"
        "    when:\n      technology: {matches: [postgres, mysql]}\n"
        "      assets: {contains: {secret: 1}}\n"
        "    categories: [tampering]\n    impact: 1\n    likelihood: 1\n"
        "    explanation: x\n    mitigation: y\n"
    )
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: x\nplugins:\n  - tm-docs:\n      rules: rules\n"
    )
    for command in ("check", "diff"):
        args = [command] if command == "check" else [command, "HEAD"]
        result = tm_docs(tmp_path, *args)
        assert result.returncode == 1, (command, result.stderr)
        assert "rules/bad.yaml:6:7: rule 'bad': 'technology': matches needs" in result.stdout
        assert "rules/bad.yaml:7:7: rule 'bad': 'assets': contains needs one word" in result.stdout
        assert "Traceback" not in result.stderr


def test_site_build_with_a_broken_rule_is_a_clear_error(tmp_path: Path) -> None:
    config = make_site(tmp_path, plugin={"rules": "rules"}, git=False)
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.yaml").write_text(
        "rules:\n  - id: odd\n    title: Odd\n    applies_to: flow\n"
        "    when: {checks: [signature]}\n    categories: [tampering]\n"
        "    impact: 1\n    likelihood: 1\n    explanation: x\n    mitigation: y\n"
    )
    proc = build(config)
    assert proc.returncode == 1
    assert "rules/r.yaml:5:12: rule 'odd': 'checks' is a set fact" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_markdown_of_a_model_is_budgeted_where_it_passes_the_limit() -> None:
    from tm_docs.load.models import load_text
    from tm_docs.model import MAX_MARKDOWN_PER_MODEL

    text = "*a_" * 6_000  # 18,000 characters of emphasis noise, the costly kind to render
    lines = ["components:"]
    lines += [
        f"  - {{id: c{i}, title: C, kind: process, description: '{text}'}}" for i in range(20)
    ]
    model, problems, _ = load_text(
        (HEADER.format(id="m") + "\n".join(lines) + "\n").encode(), "m.yaml"
    )
    assert model is None
    (problem,) = problems
    # The twelfth description is where 12 x 18,000 passes 200,000.
    assert problem.line == 5 + 12 and f"more than {MAX_MARKDOWN_PER_MODEL:,}" in problem.message


# Prose, and the characters around it that Markdown or HTML read as syntax somewhere.
_PROSE_OR_NOT = st.text(
    alphabet=st.sampled_from(list("aZ09 .,;:?()/'\"-\n*_`[]<>&#|!\\~{}=+\t\r\u00a0é")), max_size=40
)


@given(text=_PROSE_OR_NOT, start=st.sampled_from(["", "A", "Ab ", "1. ", "- ", "    "]))
@settings(max_examples=800, deadline=None)
def test_plain_prose_renders_as_the_converter_and_sanitizer_render_it(
    text: str, start: str
) -> None:
    """Descriptions and titles of plain prose skip Python-Markdown and the sanitizer: the
    HTML must be the very text those make, for any text the shortcut takes."""
    from tm_docs.render import escape

    text = start + text
    if text.strip():
        assert escape.markdown_html(text) == escape._converted(text), repr(text)
        line = " ".join(text.split())
        assert escape.inline_html(text) == escape._inline_converted(text, line), repr(text)


# Lines of prose with words in bold, and lines near them (stray stars, spaces, other list
# markers); paragraphs and lists of such lines.
_CLEAN_LINE = st.lists(
    st.tuples(
        st.sampled_from(["a", "Ab", "x9", "**b**", "**B1**"]),
        st.sampled_from([" ", " ", ". ", ", ", ": ", "? "]),
    ),
    min_size=1,
    max_size=5,
).map(lambda parts: "".join(w + p for w, p in parts).rstrip())
_NOISY_LINE = st.lists(
    st.tuples(
        st.sampled_from(["a", "Ab", "**b**", "** b**", "**b **", "***", "**", "*", "1."]),
        st.sampled_from([" ", ". ", "(", ")", "**", "-", "'", "", "  "]),
    ),
    min_size=1,
    max_size=5,
).map(lambda parts: "".join(w + p for w, p in parts))
_BLOCK_LINE = st.tuples(
    st.sampled_from(["", "", "- ", "- ", "-  ", "* ", " ", "1. "]),
    st.one_of(_CLEAN_LINE, _CLEAN_LINE, _CLEAN_LINE, _NOISY_LINE),
).map("".join)


@given(
    blocks=st.lists(
        st.lists(_BLOCK_LINE, min_size=1, max_size=4).map("\n".join), min_size=1, max_size=4
    ),
    between=st.sampled_from(["\n\n", "\n", "\n\n\n"]),
    end=st.sampled_from(["", "\n", "\n\n"]),
)
@settings(max_examples=1500, deadline=None)
def test_prose_paragraphs_and_lists_with_bold_words_render_as_the_converter_renders_them(
    blocks: list[str], between: str, end: str
) -> None:
    """Paragraphs and one-line-item lists of prose with `**bold**` words skip the converter
    too: for every such text the shortcut takes, its HTML is the converter's."""
    from tm_docs.render import escape

    text = between.join(blocks) + end
    if text.strip():
        assert escape.markdown_html(text) == escape._converted(text), repr(text)


def test_the_shortcut_takes_paragraphs_and_lists_with_bold_words() -> None:
    """The shape of most descriptions that are Markdown at all: it must not need the converter."""
    from tm_docs.render import escape

    text = "Two lines,\nof **plain** prose.\n\n- the **token** is kept.\n- **Keys** rotate\n\nEnd."
    html = escape._prose_html(text)
    assert html == escape._converted(text)
    assert html == (
        "<p>Two lines,\nof <strong>plain</strong> prose.</p>\n<ul>\n<li>the <strong>token"
        "</strong> is kept.</li>\n<li><strong>Keys</strong> rotate</li>\n</ul>\n<p>End.</p>"
    )
    for other in ("- a\n\n- b", "A\n- b", "- a\nb", "a **b c**", "a*b*", "a **b**c"):
        assert escape._prose_html(other) is None, other


def test_the_example_and_generated_models_text_renders_as_the_converter_renders_it(
    tmp_path: Path,
) -> None:
    """Every string of the example models and of a generated portfolio, as a description
    and as a title, the way the converter renders it; most of them take the shortcut."""
    import yaml

    from benchmarks.portfolio_repo import model_text
    from tm_docs.render import escape

    def strings(value: Any) -> list[str]:
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return [value] if isinstance(value, str) and value.strip() else []

    texts = [path.read_text(encoding="utf-8") for path in sorted(EXAMPLE_MODELS.glob("*.yaml"))]
    texts += [model_text(index, 1) for index in range(4)]
    found = [s for text in texts for s in strings(yaml.safe_load(text))]
    prose = [s for s in found if escape._prose_html(s) is not None]
    assert len(prose) > len(found) / 2  # the shortcut is taken for most of them
    for text in found:
        assert escape.markdown_html(text) == escape._converted(text), repr(text)
        line = " ".join(text.split())
        assert escape.inline_html(text) == escape._inline_converted(text, line), repr(text)


class _HtmlInItsText:
    """A value that is neither text nor Markup, whose text holds HTML and braces."""

    def __str__(self) -> str:
        return "<b>'shown' & {told}</b>"


@given(
    values=st.lists(
        st.one_of(
            st.text(max_size=20),
            st.builds(Markup, st.text(max_size=20)),
            st.integers(),
            st.floats(allow_nan=False),
            st.booleans(),
            st.none(),
            st.just(_HtmlInItsText()),
        ),
        max_size=8,
    )
)
@settings(max_examples=300, deadline=None)
def test_a_page_writes_each_value_as_escape_of_plain_would(values: list[Any]) -> None:
    """The site's templates write a value with one call (`plain_html`) in place of Jinja's
    `escape(finalize(value))`: the same text, in a page, a macro, a block set and a loop."""
    from jinja2 import Environment
    from markupsafe import escape

    from tm_docs.render.escape import plain, plain_html
    from tm_docs.render.pages import environment

    source = (
        "{% macro m(v) %}[{{ v }}]{% endmacro %}{% set s %}{{ values[0] if values }}{% endset %}"
        "{% for v in values %}{{ v }}|{{ m(v) }}|{{ v ~ '-' }}{% endfor %}{{ s }}"
    )
    stock = Environment(autoescape=True, finalize=plain)
    site = environment().from_string(source)
    assert "plain_html" in environment().compile(source, raw=True)
    assert site.render(values=values) == stock.from_string(source).render(values=values)
    for value in values:
        assert plain_html(value) == escape(plain(value))


@pytest.mark.parametrize("value", ["../../escaped", "/../x", "a/../../b", "x\ny", "."])
def test_the_path_option_cannot_take_the_pages_outside_the_site(tmp_path: Path, value: str) -> None:
    config = make_site(tmp_path, plugin={"path": value}, git=False)
    proc = build(config)
    assert proc.returncode == 1
    assert "tm-docs option 'path'" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path.parent / "escaped").exists()
