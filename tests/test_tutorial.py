"""The tutorial (docs/guide/tutorial.md) runs as written, in a new git repository.

Its fenced blocks are read in order:

- a block whose info string has `title="PATH"` is a file: its text is written to PATH;
- a `console` block holds commands (lines starting with `$ `), each followed by
  lines of its expected output; every expected line must appear in the real
  output (stdout and stderr), in that order, though the real output may have
  more lines in between;
- an HTML comment `<!-- exit: N -->` right before a `console` block says that
  its commands exit with N (otherwise 0).

Commits get fixed dates and a fixed author from the environment, so the run is
the same every time, and `tm-docs` and `mkdocs` come from the test's environment.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import REPO

TUTORIAL = REPO / "docs" / "guide" / "tutorial.md"
FENCE = re.compile(
    r"^(?:<!-- exit: (?P<exit>\d+) -->\n)?```(?P<info>[^\n]*)\n(?P<body>.*?)^```$",
    re.MULTILINE | re.DOTALL,
)
TITLE = re.compile(r'title="([^"]+)"')
COMMANDS = {"git", "tm-docs", "mkdocs", "cat"}  # what the tutorial may ask a reader to run


@dataclass
class Command:
    line: str
    exit: int
    expected: list[str] = field(default_factory=list)


@dataclass
class Step:
    file: str | None = None
    text: str = ""
    commands: list[Command] = field(default_factory=list)


def steps(markdown: str) -> list[Step]:
    found = []
    for match in FENCE.finditer(markdown):
        info, body = match["info"].strip(), match["body"]
        title = TITLE.search(info)
        if title:
            found.append(Step(file=title[1], text=body))
        elif info.split(" ")[0] == "console":
            step = Step()
            for line in body.splitlines():
                if line.startswith("$ "):
                    step.commands.append(Command(line[2:], int(match["exit"] or 0)))
                elif line.strip():
                    assert step.commands, f"output before any command: {line!r}"
                    step.commands[-1].expected.append(line.rstrip())
            found.append(step)
    return found


_HASH = re.compile(r"\b[0-9a-f]{10}\b")


def _in_order(expected: list[str], actual: list[str]) -> bool:
    """Every expected line appears, in order.  Commit hashes in the tutorial stand for
    any hash: they change whenever a file the tutorial commits does (say, the schema)."""
    lines = iter(_HASH.sub("<hash>", line.rstrip()) for line in actual)
    return all(any(line == _HASH.sub("<hash>", want) for line in lines) for want in expected)


def test_tutorial_blocks_are_found() -> None:
    found = steps(TUTORIAL.read_text(encoding="utf-8"))
    commands = [c for s in found for c in s.commands]
    files = [s.file for s in found if s.file]
    assert "models/shop.yaml" in files and "mkdocs.yml" in files
    assert [c.exit for c in commands].count(1) >= 2  # a failing validation, a stale model
    for command in commands:
        assert shlex.split(command.line)[0] in COMMANDS, command.line
    # The steps the tutorial promises, with the outputs that show each one worked.
    lines = {c.line: c for c in commands}
    assert {"tm-docs validate", "mkdocs build", "tm-docs stale"} <= set(lines)
    expected = [(c.line, e) for c in commands for e in c.expected]
    assert any(
        line == "tm-docs validate" and re.match(r"models/shop\.yaml:\d+:\d+: ", e)
        for line, e in expected
    )
    assert any(line == "tm-docs stale" and e.startswith("shop: stale - ") for line, e in expected)
    assert any(line == "tm-docs stale" and e.startswith("shop: fresh - ") for line, e in expected)
    diff = lines["tm-docs diff main HEAD --format markdown"]
    assert diff.expected[0].startswith("## Threat model review: main")
    assert any(e.startswith("- **new open high risk in shop**") for e in diff.expected)


def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    repo = tmp_path / "shop"
    repo.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    date = "2026-01-10T09:00:00Z"
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "NO_MKDOCS_2_WARNING": "1",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Ada Reviewer",
        "GIT_AUTHOR_EMAIL": "ada@shop.invalid",
        "GIT_COMMITTER_NAME": "Ada Reviewer",
        "GIT_COMMITTER_EMAIL": "ada@shop.invalid",
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
    }
    ran = 0
    for step in steps(TUTORIAL.read_text(encoding="utf-8")):
        if step.file is not None:
            target = repo / step.file
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.text, encoding="utf-8")
            continue
        for command in step.commands:
            proc = subprocess.run(
                command.line,
                shell=True,
                cwd=repo,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            output = proc.stdout + proc.stderr
            assert proc.returncode == command.exit, f"$ {command.line}\n{output}"
            assert _in_order(command.expected, output.splitlines()), (
                f"$ {command.line}\nexpected, in order:\n"
                + "\n".join(command.expected)
                + f"\n--- got:\n{output}"
            )
            ran += 1
    assert ran >= 10
    assert (repo / "site" / "threat-models" / "shop" / "index.html").is_file()


@pytest.mark.parametrize(
    "expected, actual, ok",
    [
        (["a", "c"], ["a", "b", "c"], True),
        (["c", "a"], ["a", "b", "c"], False),
        (["d"], ["a"], False),
        ([], ["a"], True),
    ],
)
def test_expected_lines_match_in_order(expected: list[str], actual: list[str], ok: bool) -> None:
    assert _in_order(expected, actual) is ok
