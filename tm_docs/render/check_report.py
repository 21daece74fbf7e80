"""What `tm-docs validate` and `tm-docs check` print: lines for people and CI logs, and JSON
documents for other tools (SARIF lives in `sarif.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..analysis.report import CheckOutcome
from ..load.models import LoadResult
from ..problems import Problem, Severity, display_path
from .github import annotation
from .json_text import dumps


@dataclass
class Printed:
    """What a command prints: its result on standard output, its summary on standard error."""

    out: list[str] = field(default_factory=list)
    err: list[str] = field(default_factory=list)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def problem_line(problem: Problem, output_format: str, command: str) -> str:
    """A problem as a terminal line, or as a GitHub annotation titled by the command."""
    if output_format == "github":
        return annotation(problem, title=f"tm-docs {command}".strip())
    return str(problem)


def validation_lines(result: LoadResult, output_format: str) -> Printed:
    printed = Printed([problem_line(p, output_format, "validate") for p in result.problems])
    errors = result.errors
    if errors:
        bad_files = len({p.file for p in errors})
        printed.err.append(
            f"{plural(len(errors), 'error')} in {plural(bad_files, 'file')} "
            f"({len(result.files)} checked)"
        )
    else:
        printed.out.append(f"{plural(len(result.models), 'model')} OK")
    return printed


def check_lines(outcome: CheckOutcome, output_format: str) -> Printed:
    """Each finding (an error where the policy fails on it, else a warning), the coverage of
    each model and the verdict."""
    printed = Printed()
    for finding in outcome.findings:
        p = finding.problem
        severity = Severity.ERROR if outcome.fails(finding) else Severity.WARNING
        problem = Problem(p.file, p.line, p.column, p.message, severity)
        policy = finding.policy.value
        if output_format == "github":
            printed.out.append(annotation(problem, title=f"tm-docs check: {policy}"))
        else:
            printed.out.append(f"{problem} [{policy}]")
    for r in outcome.report.models:
        printed.err.append(
            f"{r.model.id}: {r.coverage.percent}% STRIDE coverage, "
            f"{plural(len(r.untriaged), 'untriaged suggestion')}"
        )
    failing = outcome.failing
    policy_text = ", ".join(sorted(p.value for p in outcome.policies)) or "none"
    printed.err.append(
        f"{'FAIL' if failing else 'OK'}: {plural(len(failing), 'finding')} that fail the check "
        f"(fail on: {policy_text}); {len(outcome.findings) - len(failing)} more as warnings"
    )
    return printed


def problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "severity": problem.severity.value,
        "message": problem.message,
    }


def validation_json(result: LoadResult) -> str:
    return dumps(
        {
            "ok": result.ok,
            "files": [display_path(p) for p in result.files],
            "models": [
                {"id": m.model.id, "title": m.model.title, "file": m.display_path}
                for m in result.models
            ],
            "problems": [problem_json(p) for p in result.problems],
        }
    )


def check_json(outcome: CheckOutcome) -> str:
    return dumps(
        {
            "ok": outcome.ok,
            "fail_on": sorted(p.value for p in outcome.policies),
            "models": [
                {
                    "id": r.model.id,
                    "file": r.loaded.display_path,
                    "coverage": r.coverage.percent,
                    "untriaged": [s.key for s in r.untriaged],
                }
                for r in outcome.report.models
            ],
            "findings": [
                {
                    **problem_json(f.problem),
                    "severity": "error" if outcome.fails(f) else "warning",
                    "policy": f.policy.value,
                    "fails": outcome.fails(f),
                }
                for f in outcome.findings
            ],
        }
    )
