"""Every output channel escapes data for itself, whatever the model format lets through.

Hostile values from pull requests (model text, file names, commit subjects
and authors) are fed to the real command line, and every line it prints is
checked for the properties of its channel: terminal and CI log text, GitHub
workflow commands, JSON, Markdown for pull-request comments, CSV.

Which model fields accept a line break or a C1 control is up to the model
format; the tests put each payload where it reaches the output in any case
(unknown keys quoted in messages, multi-line reasons in the diff, commit
subjects) or accept a validation error as the outcome, checking the lines
either way.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from tm_docs.cli import main
from tm_docs.render.exports import CSV_COLUMNS

from .gitrepo import GitRepo

# Characters no output channel may carry raw: C0 (but the line feed that ends
# lines), DEL, C1, bidi controls and marks, separators, lone surrogates.
HIDDEN = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
    "\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# Markers CI systems obey anywhere in a line.
CI_MARKER = re.compile(r"##(vso)?\[", re.IGNORECASE)
# Our annotations, and nothing else, may start a line in github format.
ANNOTATION = re.compile(
    r"::(error|warning) file=[^,:\r\n]*,line=\d+,col=\d+,title=[^,:\r\n]+::[^\r\n]*"
)

NEWLINE_COMMAND = "x\n::error::x"
NEWLINE_COMMAND_SHOWN = "x\\n::error::x"
# C1 controls (CSI starts an ANSI sequence as ESC [ does), bidi controls, separators.
CONTROLS = "a\x9b31mb\u202ec\u2066d\u200fe\u061cf\u2028g\u2029h\x85i\u200bj"
CONTROLS_SHOWN = "a\\x9b31mb\\u202ec\\u2066d\\u200fe\\u061cf\\u2028g\\u2029h\\x85i\\u200bj"
CI_MARKERS = "k ##[error]boom ##VSO[task.setvariable variable=x]y"
MARKDOWN = (
    "@octocat ![i](https://e.invalid/i.png) <img src=x onerror=alert(1)> "
    "```fence``` ~~~ # h | cell --> [l](https://e.invalid) www.e.invalid &amp; #12 a@b.invalid"
)


def terminal_lines(text: str, *, annotations: bool = False) -> list[str]:
    """The lines of terminal or CI log output, checked for what no data may do there."""
    assert not HIDDEN.search(text), repr(HIDDEN.search(text))
    assert not CI_MARKER.search(text), text
    lines = text.split("\n")
    for line in lines:
        start = line.lstrip()  # GitHub reads a command after leading spaces too
        if start.startswith("::"):
            assert annotations and ANNOTATION.fullmatch(line), line
        assert not start.startswith(("#", "@", "<")), line
    return lines


def inert_markdown(text: str, *, table_columns: int | None = None) -> list[str]:
    """The lines of Markdown output, checked for what no model text may start in it."""
    assert not HIDDEN.search(text), repr(HIDDEN.search(text))
    assert not re.search(r"@(?!&#8203;)", text), text  # a mention notifies people
    assert not re.search(r"(?<!&)#(?!&#8203;|[# ])", text), text  # an issue reference
    ours = re.sub(r"</?(details|summary)>", "", text)
    assert "<" not in ours, text  # raw HTML
    assert not re.search(r"&(?!#[0-9]+;)", text), text  # only character references
    for forbidden in ("![", "](", "://", "www.", "```", "~~~", "-->", "\\"):
        assert forbidden not in text, (forbidden, text)
    lines = text.split("\n")
    for line in lines:
        assert not line.startswith(("::", "#&", "###", ">", "@", "!", "*", "+", "=", "`")), line
        if table_columns is not None and line.startswith("|"):
            assert line.count("|") == table_columns + 1, line
    return lines


def model(
    *,
    threat_title: str = "Forged token",
    reason: str | None = None,
    mitigation_title: str = "Check audience",
    mitigation_owner: str = "api-team",
    sprint: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    threat: dict[str, Any] = {
        "id": "T1",
        "title": threat_title,
        "categories": ["spoofing"],
        "targets": ["api"],
        "impact": 5,
        "likelihood": 4,
        "mitigations": ["M1"],
    }
    if reason is not None:
        threat.update(status="accepted", reason=reason)
    mitigation: dict[str, Any] = {
        "id": "M1",
        "title": mitigation_title,
        "owner": mitigation_owner,
        "threats": ["T1"],
    }
    if sprint is not None:
        mitigation["sprint"] = sprint
    document = {
        "format_version": 1,
        "id": "shop",
        "title": "Shop",
        "owner": "team-a",
        "components": [{"id": "api", "title": "API", "kind": "process"}],
        "threats": [threat],
        "mitigations": [mitigation],
        **(extra or {}),
    }
    # safe_dump writes every control character as an escape of a quoted scalar.
    return yaml.safe_dump(document, sort_keys=False)


def invoke(cwd: Path, *args: str) -> Result:
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, list(args))
    finally:
        os.chdir(old)


def run_bytes(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The installed command as CI runs it, with its output as the bytes it wrote."""
    exe = shutil.which("tm-docs", path=str(Path(sys.executable).parent)) or "tm-docs"
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, check=False, env=env)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "models").mkdir()
    return tmp_path


# backlog ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (NEWLINE_COMMAND, NEWLINE_COMMAND_SHOWN),
        (CONTROLS, CONTROLS_SHOWN),
        (CI_MARKERS, "k \\x23#[error]boom \\x23#VSO[task"),
    ],
)
def test_backlog_table_and_markdown_keep_model_text_on_its_line(
    project: Path, value: str, shown: str
) -> None:
    (project / "models" / "shop.yaml").write_text(
        model(mitigation_title=value, sprint=value, mitigation_owner="::warning::" + CONTROLS)
    )
    table = invoke(project, "backlog")
    lines = terminal_lines(table.stdout)
    if table.exit_code == 0:
        assert lines[0] == "owner: ::warning::" + CONTROLS_SHOWN
        assert lines[1].startswith("    1. 20 critical M1 ")
        assert lines[1].count(shown) == 2  # title and sprint, on the item's line
    else:  # the model format refuses the value: the problems name the file
        assert table.exit_code == 1
        assert all(line.startswith("models/shop.yaml:") for line in lines if line)
    markdown = invoke(project, "backlog", "--format", "markdown")
    if markdown.exit_code == 0:
        md_lines = inert_markdown(markdown.stdout, table_columns=8)
        assert md_lines[0].startswith("## ::warning::a&#92;x9b31mb")
        assert sum(line.startswith("| 1 | 20 critical | M1 ") for line in md_lines) == 1
    else:
        assert markdown.stdout == table.stdout  # the same problems


def test_backlog_csv_defuses_formulas_in_every_text_column(project: Path) -> None:
    (project / "models" / "shop.yaml").write_text(
        model(mitigation_title="=1+2", mitigation_owner="@SUM(A1)", sprint="+cmd|' /C calc'!A0")
    )
    result = invoke(project, "backlog", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == list(CSV_COLUMNS)
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["title"], row["owner"], row["sprint"]) == (
        "'=1+2",
        "'@SUM(A1)",
        "'+cmd|' /C calc'!A0",
    )


# controls --------------------------------------------------------------------------------


def _with_controls(**kwargs: Any) -> str:
    document = yaml.safe_load(model(**kwargs))
    document["mitigations"][0]["controls"] = ["asvs:4.0.3:V4.2.1", "my-fw:X-1"]
    return yaml.safe_dump(document, sort_keys=False)


@pytest.mark.parametrize("value", [NEWLINE_COMMAND, CONTROLS, CI_MARKERS, MARKDOWN])
def test_controls_table_markdown_and_json_keep_model_text_inert(project: Path, value: str) -> None:
    (project / "models" / "shop.yaml").write_text(
        _with_controls(mitigation_title=value, threat_title="Forged token")
    )
    table = invoke(project, "controls")
    lines = terminal_lines(table.stdout)
    if table.exit_code != 0:  # the format refuses the value: problems, on their own lines
        assert table.exit_code == 1
        return
    assert lines[0] == "OWASP ASVS 4.0.3 (asvs:4.0.3)"
    assert lines[1] == "  asvs:4.0.3:V4.2.1"
    assert lines[2].startswith("    M1 ") and lines[2].endswith("(shop; threats: T1)")
    markdown = invoke(project, "controls", "--format", "markdown")
    md_lines = inert_markdown(markdown.stdout, table_columns=5)
    assert md_lines[0] == "## OWASP ASVS 4.0.3"
    assert sum(line.startswith("| asvs:4.0.3:V4.2.1 | M1 ") for line in md_lines) == 1
    document = json.loads(invoke(project, "controls", "--format", "json").stdout)
    (use,) = document["frameworks"][0]["controls"][0]["mitigations"]
    assert use["title"] == value  # JSON keeps the text as data
    assert [f["framework"] for f in document["frameworks"]] == ["asvs:4.0.3", "my-fw"]


def test_controls_csv_defuses_formulas(project: Path) -> None:
    (project / "models" / "shop.yaml").write_text(
        _with_controls(mitigation_title="=1+2", mitigation_owner="@SUM(A1)")
    )
    result = invoke(project, "controls", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["framework", "control", "model", "mitigation", "title", "owner", "status",
                       "threats"]  # fmt: skip
    assert len(rows) == 3  # one row per control and mitigation
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["control"], row["title"], row["owner"], row["threats"]) == (
        "asvs:4.0.3:V4.2.1",
        "'=1+2",
        "'@SUM(A1)",
        "T1",
    )


# validate and check ----------------------------------------------------------------------


def test_validate_and_check_quote_hostile_keys_on_one_line(project: Path) -> None:
    # An unknown key is quoted in the message, whatever the fields accept.
    # '%0A' is how a workflow command writes a line break: data must not use it.
    bad = model(extra={NEWLINE_COMMAND: 1, CONTROLS: 2, CI_MARKERS: 3, "p%0A::error::q": 4})
    (project / "models" / "shop.yaml").write_text(bad)
    for command in ("validate", "check"):
        text = invoke(project, command)
        assert text.exit_code == 1
        lines = [line for line in terminal_lines(text.stdout) if line]
        assert len(lines) == 4
        assert all(line.startswith("models/shop.yaml:") for line in lines)
        assert NEWLINE_COMMAND_SHOWN in text.stdout and CONTROLS_SHOWN in text.stdout
        github = invoke(project, command, "--format", "github")
        assert github.exit_code == 1
        annotations = [line for line in terminal_lines(github.stdout, annotations=True) if line]
        assert len(annotations) == 4
        assert all(ANNOTATION.fullmatch(line) for line in annotations)
        assert sum("'p%250A::error::q'" in line for line in annotations) == 1
        assert all("%0A" not in line for line in annotations)
        assert all(f",title=tm-docs {command}::" in line for line in annotations)


def test_check_findings_quote_titles_on_one_line(project: Path) -> None:
    title = "::error::t " + CONTROLS + " " + CI_MARKERS
    (project / "models" / "shop.yaml").write_text(model(threat_title=title))
    text = invoke(project, "check", "--fail-on", "critical-unplanned")
    lines = [line for line in terminal_lines(text.stdout) if line]
    assert text.exit_code == 1
    if any("critical" in line for line in lines):  # the title was accepted
        assert any(CONTROLS_SHOWN in line for line in lines)
    assert all(line.startswith("models/shop.yaml:") for line in lines)
    github = invoke(project, "check", "--format", "github", "--fail-on", "critical-unplanned")
    assert github.exit_code == 1
    for line in terminal_lines(github.stdout, annotations=True):
        assert not line or ANNOTATION.fullmatch(line)


def test_a_path_that_looks_like_a_command_gets_a_dot_slash(project: Path) -> None:
    models = project / "models"
    (models / "::warning::x.yaml").write_text(model(extra={"colour": "red"}))
    (models / "-n.yaml").write_text(model(extra={"colour": "red"}).replace("shop", "other"))
    result = invoke(models, "validate", ".")
    assert result.exit_code == 1
    lines = [line for line in terminal_lines(result.stdout) if line]
    assert [line.split(".yaml:")[0] for line in lines] == ["./-n", "./::warning::x"]
    github = invoke(models, "validate", "--format", "github", ".")
    annotations = [line for line in terminal_lines(github.stdout, annotations=True) if line]
    assert annotations[1].startswith("::error file=%3A%3Awarning%3A%3Ax.yaml,line=")


def test_file_names_that_are_not_utf8_are_shown_escaped_in_every_format(project: Path) -> None:
    models = os.fsencode(project / "models")
    with open(models + b"/caf\xff.yaml", "wb") as out:
        out.write(model(extra={"colour": "red"}).encode())
    proc = run_bytes(project, "validate", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout.decode("utf-8", "strict"))
    assert report["files"] == ["models/caf\\xff.yaml"]
    assert {p["file"] for p in report["problems"]} == {"models/caf\\xff.yaml"}
    for output_format in ("github", "text"):
        proc = run_bytes(project, "validate", "--format", output_format)
        assert proc.returncode == 1
        text = proc.stdout.decode("utf-8", "strict")
        lines = [line for line in terminal_lines(text, annotations=True) if line]
        assert lines and all("caf\\xff.yaml" in line for line in lines)


# diff ------------------------------------------------------------------------------------


@pytest.fixture
def changed(tmp_path: Path) -> GitRepo:
    """A repository whose feature branch puts hostile text in a model's threat."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit("A model", "2026-06-01T10:00:00Z", {"models/shop.yaml": model()})
    repo.git("checkout", "-q", "-b", "feature")
    reason = " ".join([NEWLINE_COMMAND, CONTROLS, CI_MARKERS, MARKDOWN])
    repo.commit(
        "Accept the risk",
        "2026-06-02T10:00:00Z",
        {"models/shop.yaml": model(reason=reason, threat_title="Forged " + MARKDOWN)},
    )
    return repo


def test_diff_text_keeps_every_value_on_its_line(changed: GitRepo) -> None:
    result = invoke(changed.root, "diff", "main", "HEAD")
    lines = terminal_lines(result.stdout)
    assert lines[0] == "Threat model review: main -> HEAD"
    shown = [line for line in lines if "reason:" in line]
    if shown:  # the model loads: its reason is one escaped detail line
        (detail,) = shown
        assert detail.startswith("      reason: not set → x\\n::error::x " + CONTROLS_SHOWN)
    else:  # the model format refuses the text: the problems are on stderr
        assert result.exit_code == 1
    terminal_lines(result.stderr)


def test_diff_markdown_is_inert(changed: GitRepo) -> None:
    result = invoke(changed.root, "diff", "main", "HEAD", "--format", "markdown")
    lines = inert_markdown(result.stdout)
    assert lines[0] == "## Threat model review: main → HEAD"
    reason = [line for line in lines if line.startswith("  - reason: ")]
    if reason:
        # Readable: letters and spaces stay as they are, mentions are broken.
        assert "not set → x&#92;n::error::x a&#92;x9b31mb&#92;u202ec" in reason[0]
        assert "@&#8203;octocat &#33;&#91;i&#93;(https:/&#8203;/e.invalid/i.png)" in reason[0]
    else:
        assert result.exit_code == 1


def test_diff_json_keeps_hostile_text_as_data(changed: GitRepo) -> None:
    result = invoke(changed.root, "diff", "main", "HEAD", "--format", "json")
    assert not HIDDEN.search(result.stdout)  # C1 and bidi as JSON escapes
    document = json.loads(result.stdout)
    details = [d for m in document["models"] for c in m["changes"] for d in c["details"]]
    if result.exit_code == 0:
        assert any(NEWLINE_COMMAND in d for d in details)  # JSON carries the text as it is


# stale -----------------------------------------------------------------------------------

AUTHOR = "Eve \x1b]0;title\x07 \u202eevil\u2069 \x9b2J"
# '\udcff' is the byte 0xFF, which is not UTF-8 (Python's surrogate escape).
SUBJECT = "Change it \x1b[2J\x9b31m \u2066x\u2069 \u200e\u061c ##[error]no \udcff done"
BIDI_FILE = "services/\u202eapp\x9b.py"
BYTES_FILE = "services/b\udcffd.py"


@pytest.fixture
def stale_repo(tmp_path: Path) -> GitRepo:
    """A model made stale by a commit whose author, subject and file names are hostile.

    `git commit` would re-encode a subject that is not UTF-8, but commits made by
    other tools need not be: this one is written as a raw object.
    """
    repo = GitRepo(tmp_path / "repo")
    text = model(extra={"watch": ["services/**"]})
    repo.commit("A model", "2026-06-01T10:00:00Z", {"models/shop.yaml": text})
    repo.write(BIDI_FILE, "v2\n")
    repo.write(BYTES_FILE, "v2\n")
    repo.git("add", "-A")
    tree, parent = repo.git("write-tree"), repo.git("rev-parse", "HEAD")
    when = "1780653600 +0000"  # 2026-06-05T10:00:00Z
    ident = f"{AUTHOR} <eve@example.invalid> {when}"
    raw = f"tree {tree}\nparent {parent}\nauthor {ident}\ncommitter {ident}\n\n{SUBJECT}\n"
    made = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
        input=raw.encode("utf-8", "surrogateescape"),
        cwd=repo.root,
        capture_output=True,
        check=True,
    )
    repo.git("update-ref", "HEAD", made.stdout.decode().strip())
    return repo


def test_stale_text_shows_commit_text_escaped(stale_repo: GitRepo) -> None:
    proc = run_bytes(stale_repo.root, "stale")
    assert proc.returncode == 1, proc.stderr
    lines = terminal_lines(proc.stdout.decode("utf-8", "strict"))
    assert lines[0].startswith("shop: stale")
    (commit,) = [line for line in lines if line.startswith("    ")]
    assert "\\x9b2J" in commit and "\\u202eevil" in commit  # the author, visible
    assert "\\x1b[2J\\x9b31m \\u2066x\\u2069 \\u200e\\u061c \\x23#[error]no \\xff done" in commit
    assert "services/\\u202eapp\\x9b.py" in commit and "services/b\\xffd.py" in commit
    terminal_lines(proc.stderr.decode("utf-8", "strict"))


def test_stale_markdown_and_json_carry_no_raw_controls(stale_repo: GitRepo) -> None:
    markdown = run_bytes(stale_repo.root, "stale", "--format", "markdown")
    assert markdown.returncode == 1
    inert_markdown(markdown.stdout.decode("utf-8", "strict"), table_columns=5)
    proc = run_bytes(stale_repo.root, "stale", "--format", "json")
    assert proc.returncode == 1
    document = json.loads(proc.stdout.decode("utf-8", "strict"))
    (commit,) = document["models"][0]["commits"]
    assert commit["author"] == AUTHOR  # JSON escapes controls itself; the text is kept
    assert commit["subject"] == SUBJECT.replace("\udcff", "\\xff")  # a byte that is not UTF-8
    assert sorted(commit["files"]) == sorted([BIDI_FILE, "services/b\\xffd.py"])
    raw = proc.stdout.decode("utf-8", "strict")
    assert not HIDDEN.search(raw)  # written as JSON escapes, read back as the text
