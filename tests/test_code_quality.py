"""The package is linted and type-checked as part of the test suite."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, check=False
    )


def test_ruff_finds_nothing() -> None:
    proc = _run("ruff", "check", "tm_docs", "tests", "benchmarks")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = _run("ruff", "format", "--check", "tm_docs", "tests", "benchmarks")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_passes() -> None:
    proc = _run("mypy", "tm_docs")
    assert proc.returncode == 0, proc.stdout + proc.stderr
