"""The portfolio benchmark runs as its README says, on a tiny portfolio.

The numbers themselves are the benchmark's business (machine-dependent, in
`benchmarks/README.md`); what is tested here is that the documented command measures
what it claims (real builds of both sites, Graphviz counted, the goals judged) and
stops on a failed build instead of counting it as a fast one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.portfolio import BenchmarkError, Counter, goal_values, mkdocs_build

ROOT = Path(__file__).resolve().parent.parent


def test_the_documented_command_measures_both_sites_and_judges_the_goals(
    tmp_path: Path,
) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/portfolio.py",
            "--models",
            "3",
            "--rounds",
            "1",
            "--serve-rounds",
            "0",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "CI": "1", "NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (result,) = json.loads(out.read_text(encoding="utf-8"))
    assert result["models"] == 3
    # A cold build draws each model once; warm and edited builds draw nothing.
    assert [result[k]["dot_calls"] for k in ("cold", "warm", "edit")] == [3, 0, 0]
    for kind in ("cold", "warm", "edit"):
        assert result[kind]["tm_docs_cpu_s"] > 0 and result[kind]["plain_cpu_s"] > 0
        assert result[kind]["tm_docs_peak_mib"] > 0 and result[kind]["plain_peak_mib"] > 0
    assert result["check"]["dot_calls"] == 0 and result["generate"]["dot_calls"] == 0
    assert result["diagrams"]["bytes"] > result["diagrams"]["without_icons"] > 0
    assert result["prune"]["site_html_bytes"] > 0 and result["prune"]["cpu_ratio"] > 0
    # The verdicts printed are those of the measured numbers.
    values = goal_values(result)
    cold = f"| cold build, CPU vs plain ≤ 1.30x | {values['cold']:.2f}x "
    assert cold + ("met" if values["cold"] <= 1.30 else "missed") in done.stdout
    assert done.stdout.startswith("Machine: ") and "\ntm-docs: " in done.stdout
    # Quiet in CI: one line per portfolio, no progress bar.
    assert done.stderr.strip().splitlines() == ["measuring 3 models ..."]


def test_a_failed_build_stops_the_benchmark(tmp_path: Path) -> None:
    (tmp_path / "mkdocs.yml").write_text("site_name: [unclosed\n", encoding="utf-8")
    counter = Counter(tmp_path / "counter")
    with pytest.raises(BenchmarkError, match=r"exited with 1"):
        mkdocs_build(tmp_path, counter)
