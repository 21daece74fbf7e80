"""`tm-docs validate` and `tm-docs check` as JSON documents for other tools."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ..analysis.report import Finding, Report
from ..analysis.settings import Policy
from ..load.models import LoadResult
from ..problems import Problem, display_path
from .json_text import dumps


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


def check_json(report: Report, findings: list[Finding], policies: Collection[Policy]) -> str:
    failing = [f for f in findings if f.policy in policies]
    return dumps(
        {
            "ok": not failing,
            "fail_on": sorted(p.value for p in policies),
            "models": [
                {
                    "id": r.model.id,
                    "file": r.loaded.display_path,
                    "coverage": r.coverage.percent,
                    "untriaged": [s.key for s in r.untriaged],
                }
                for r in report.models
            ],
            "findings": [
                {
                    **problem_json(f.problem),
                    "severity": "error" if f.policy in policies else "warning",
                    "policy": f.policy.value,
                    "fails": f.policy in policies,
                }
                for f in findings
            ],
        }
    )
