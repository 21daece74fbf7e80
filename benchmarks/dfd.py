"""Data-flow diagram rendering: tm-docs' overhead over bare Graphviz, and warm rebuilds.

1. For synthetic models of 8, 40 and 150 elements (components + flows), the time
   tm-docs takes to render a diagram (build the graph with `diagrams`, run `dot`,
   embed the icons) against `dot -Tsvg` alone on the same DOT source.
   Goal: overhead <= 1.3x.
2. A cold `mkdocs build` of a site of synthetic models against a warm rebuild of
   the unchanged site, counting the Graphviz calls of each through a `dot` on
   PATH that logs its calls.  Goal: the warm rebuild makes no Graphviz call.

Run from the repository root: .venv/bin/python benchmarks/dfd.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tm_docs.dfd.build import draw
from tm_docs.dfd.graphviz import dot_path
from tm_docs.dfd.render import DiagramRenderer
from tm_docs.model import ThreatModel

TECHNOLOGIES = ["postgresql", "kafka", "go", "python", "nginx", "", "redis", ""]
KINDS = ["process", "data_store", "queue", "process", "external_entity"]
TRUST = ["untrusted", "dmz", "internal", "restricted"]


def synthetic_model(model_id: str, elements: int) -> dict[str, object]:
    """A model with `elements` components + flows, spread over nested boundaries."""
    n_components = max(2, elements // 2)
    n_flows = elements - n_components
    n_boundaries = max(1, n_components // 6)
    boundaries = [
        {
            "id": f"b{i}",
            "title": f"Zone {i}",
            "trust": TRUST[i % len(TRUST)],
            **({"parent": f"b{i // 2}"} if i and i % 3 == 0 else {}),
        }
        for i in range(n_boundaries)
    ]
    components = [
        {
            "id": f"c{i}",
            "title": f"Component {i}",
            "kind": KINDS[i % len(KINDS)],
            "boundary": f"b{i % n_boundaries}",
            **({"technology": TECHNOLOGIES[i % 8]} if TECHNOLOGIES[i % 8] else {}),
        }
        for i in range(n_components)
    ]
    flows = [
        {
            "id": f"f{i}",
            "source": f"c{i % n_components}",
            "destination": f"c{(i * 7 + 3) % n_components}",
            "protocol": "HTTPS",
            "encrypted": i % 5 != 0,
            "authentication": {"method": "none" if i % 6 == 0 else "mtls"},
        }
        for i in range(n_flows)
    ]
    threats = [
        {
            "id": f"t{i}",
            "title": f"Threat {i}",
            "categories": ["tampering"],
            "targets": [f"c{i}"],
            "impact": 1 + i % 5,
            "likelihood": 1 + (i * 2) % 5,
        }
        for i in range(0, n_components, 3)
    ]
    return {
        "format_version": 1,
        "id": model_id,
        "title": f"Synthetic {model_id}",
        "owner": "bench",
        "boundaries": boundaries,
        "components": components,
        "flows": flows,
        "threats": threats,
    }


def _best(runs: int, action) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)  # best of: the least disturbed run


def overhead(sizes: list[int], runs: int) -> None:
    print("Render one diagram: tm-docs (diagrams + dot + embedding) vs dot -Tsvg alone")
    print(f"{'elements':>9} {'tm-docs ms':>11} {'dot ms':>9} {'ratio':>7}")
    dot = dot_path()
    for size in sizes:
        model = ThreatModel.model_validate(synthetic_model(f"m{size}", size))
        source = draw(model).source

        def tm_docs(model: ThreatModel = model) -> None:
            DiagramRenderer(cache_dir=None).render(draw(model))

        def bare(source: str = source) -> None:
            subprocess.run([dot, "-Tsvg"], input=source.encode(), capture_output=True, check=True)

        tm_docs()  # warm imports and icon encodings, as in a real build
        t_tm = _best(runs, tm_docs)
        t_dot = _best(runs, bare)
        print(f"{size:>9} {t_tm * 1e3:>11.1f} {t_dot * 1e3:>9.1f} {t_tm / t_dot:>6.2f}x")


def _counting_dot(folder: Path) -> Path:
    real = dot_path()
    log = folder / "calls.log"
    log.touch()
    script = folder / "dot"
    script.write_text(f'#!/bin/sh\necho call >> "{log}"\nexec "{real}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return log


def rebuilds(models: int, size: int) -> None:
    print(f"\nSite of {models} models x {size} elements: cold build vs warm rebuild")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "docs").mkdir()
        (root / "docs" / "index.md").write_text("# Bench\n")
        (root / "models").mkdir()
        for i in range(models):
            text = yaml.safe_dump(synthetic_model(f"m{i}", size), sort_keys=False)
            (root / "models" / f"m{i}.yaml").write_text(text)
        config = {"site_name": "Bench", "theme": {"name": "material"}, "plugins": ["tm-docs"]}
        (root / "mkdocs.yml").write_text(yaml.safe_dump(config))
        (root / "bin").mkdir()
        log = _counting_dot(root / "bin")
        env = {
            **os.environ,
            "PATH": f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "NO_MKDOCS_2_WARNING": "1",
        }
        command = [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(root / "mkdocs.yml")]
        results = []
        for label in ("cold", "warm"):
            before = len(log.read_text().splitlines())
            start = time.perf_counter()
            subprocess.run(command, env=env, check=True, cwd=root)
            elapsed = time.perf_counter() - start
            calls = len(log.read_text().splitlines()) - before
            results.append((label, elapsed, calls))
        for label, elapsed, calls in results:
            print(f"{label:>5}: {elapsed:6.2f} s, {calls} Graphviz calls")
        shutil.rmtree(root / ".tm-docs-cache", ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 40, 150])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--site-models", type=int, default=12)
    parser.add_argument("--site-size", type=int, default=40)
    args = parser.parse_args()
    overhead(args.sizes, args.runs)
    rebuilds(args.site_models, args.site_size)


if __name__ == "__main__":
    main()
