"""The GitHub workflows, the composite action and the pre-commit hooks users copy.

A security tool's own automation is held to security standards: valid against the
GitHub schemas, no high-severity findings of zizmor, and the tm-docs commands they
run are real commands with real options (the ones the other tests exercise).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tm_docs.cli import main

from .conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
ACTION = REPO / "action.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"


def _tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / name
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False)


def test_the_expected_workflows_exist() -> None:
    assert [p.name for p in WORKFLOWS] == ["docs.yml", "threat-model-review.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_valid(path: Path) -> None:
    proc = _tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_action_is_valid() -> None:
    proc = _tool("check-jsonschema", "--builtin-schema", "vendor.github-actions", str(ACTION))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing_of_high_severity() -> None:
    proc = _tool(
        "zizmor",
        "--offline",
        "--format",
        "json",
        "--min-severity",
        "high",
        str(REPO / ".github" / "workflows"),
        str(ACTION),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout or "[]") == []


def test_actions_are_pinned_and_credentials_not_persisted() -> None:
    for path in WORKFLOWS:
        workflow = yaml.safe_load(path.read_text())
        assert workflow["permissions"] == {}, f"{path.name}: no permissions by default"
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                if "uses" in step:
                    assert PINNED.fullmatch(step["uses"]), step["uses"]
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False
                    assert step["with"]["fetch-depth"] == 0  # staleness needs the history


# owner/repository[/path]@ a full commit hash
PINNED = re.compile(r"[\w.-]+/[\w.-]+(/[\w.-]+)*@[0-9a-f]{40}")
UPLOAD_SARIF = "github/codeql-action/upload-sarif@"


def test_the_action_pins_what_it_uses() -> None:
    steps = yaml.safe_load(ACTION.read_text())["runs"]["steps"]
    used = [step["uses"] for step in steps if "uses" in step]
    assert used and all(PINNED.fullmatch(u) for u in used), used


def test_findings_go_to_code_scanning_with_least_privilege() -> None:
    """The review workflow writes SARIF with real commands and uploads each file; only
    the job that uploads may write security events, and it can write nothing else."""
    workflow = yaml.safe_load(
        (REPO / ".github" / "workflows" / "threat-model-review.yml").read_text()
    )
    uploading = {}
    for name, job in workflow["jobs"].items():
        uploads = [s for s in job["steps"] if s.get("uses", "").startswith(UPLOAD_SARIF)]
        permissions = job.get("permissions", {})
        if not uploads:
            assert "security-events" not in permissions, name
            continue
        uploading[name] = job
        assert permissions == {"contents": "read", "security-events": "write"}, name
        script = "\n".join(str(s.get("run", "")) for s in job["steps"])
        written = set(re.findall(r"--format sarif > (\S+)", script))
        assert {u["with"]["sarif_file"] for u in uploads} == written
        categories = [u["with"]["category"] for u in uploads]
        assert len(set(categories)) == len(categories)  # one analysis each
        assert {"validate", "check"} <= {c.removeprefix("tm-docs-") for c in categories}
    assert list(uploading) == ["code-scanning"]
    # Code scanning compares a pull request with its base branch: main is analysed too.
    assert "main" in workflow[True]["push"]["branches"]
    # The action uploads only when asked to, with the same pinned upload action.
    steps = yaml.safe_load(ACTION.read_text())["runs"]["steps"]
    upload = next(s for s in steps if s.get("uses", "").startswith(UPLOAD_SARIF))
    assert upload["if"] == "inputs.sarif != ''"
    assert "--format sarif" in next(s["run"] for s in steps if s.get("id") == "run")


def _tm_docs_commands() -> list[list[str]]:
    """Every `tm-docs ...` command line the workflows, the action and the hooks run."""
    lines = []
    for path in [*WORKFLOWS, ACTION]:
        data = yaml.safe_load(path.read_text())
        jobs = data.get("jobs", {}).values() if "jobs" in data else [data["runs"]]
        for job in jobs:
            for step in job["steps"]:
                for line in str(step.get("run", "")).splitlines():
                    if line.strip().startswith("tm-docs "):
                        lines.append(line.strip())
    lines += [hook["entry"] for hook in yaml.safe_load(HOOKS.read_text())]
    return [shlex.split(line.split(">")[0].split("||")[0]) for line in lines]


def test_the_commands_they_run_are_real_commands_with_real_options() -> None:
    commands = _tm_docs_commands()
    assert {c[1] for c in commands} >= {"validate", "check", "diff"}
    for command in commands:
        name = command[1]
        if name.startswith("$") or name.startswith('"$'):
            continue  # the action's command comes from its input
        assert name in main.commands, command
        help_text = CliRunner().invoke(main, [name, "--help"]).stdout
        for option in (arg for arg in command[2:] if arg.startswith("--")):
            assert option in help_text, (command, option)
