"""Hundreds of models: tm-docs' site against a plain-Markdown site of the same pages.

For each portfolio size, makes a portfolio with `portfolio_repo.make_portfolio`
(realistic generated models, a 2,000-commit history) and its plain baseline
(`make_baseline`: the same pages, diagrams, theme and plugins, without tm-docs),
then measures, interleaved (tm-docs, plain, tm-docs, plain, ...) and as the
median of the rounds:

- `mkdocs build`: cold (no cache, no site), warm (again) and after editing one
  model (its page in the baseline), as ratios to the plain site; the peak memory
  of each build (the child process' maximum resident set, from `wait4`); the
  Graphviz calls (a `dot` on PATH that counts its runs);
- `mkdocs serve` and `mkdocs serve --dirty`: from saving a model (a page in the
  baseline) to the new text being served, polled over HTTP on 127.0.0.1
  (`--serve-only` measures only these, after one warm build);
- `tm-docs check` and `tm-docs generate`: time, peak memory, Graphviz calls;
- the site's diagram bytes (SVGs and the shared icon files) against the same
  SVGs with their icons taken out;
- the theme's `navigation.prune`: site size and build time with and without it.

Run from the repository root:

    .venv/bin/python benchmarks/portfolio.py --models 50 150 500
    .venv/bin/python benchmarks/portfolio.py --quick          # 20 models, one round

Needs Graphviz `dot` on PATH.  Everything happens in a temporary folder that is
removed at the end (`--keep` keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.portfolio_repo import (
    edit_model,
    make_baseline,
    make_portfolio,
    portfolio_at,
    write_config,
)

ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


@dataclass
class Run:
    seconds: float
    cpu: float  # user + system seconds of the process and the children it waited for
    peak_mib: float
    dot_calls: int
    returncode: int


@dataclass
class Sample:
    runs: list[Run] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(r, attribute) for r in self.runs)


class Counter:
    """A `dot` in front of the real one that counts how often it is run."""

    def __init__(self, folder: Path) -> None:
        real = shutil.which("dot")
        if real is None:
            sys.exit("Graphviz's dot is needed on PATH")
        self.bin = folder / "bin"
        self.bin.mkdir(parents=True)
        self.file = folder / "dot-calls"
        self.file.write_text("")
        wrapper = self.bin / "dot"
        wrapper.write_text(f'#!/bin/sh\necho x >> "{self.file}"\nexec "{real}" "$@"\n')
        wrapper.chmod(0o755)
        self.env = {**ENV, "PATH": f"{self.bin}{os.pathsep}{ENV.get('PATH', '')}"}

    def calls(self) -> int:
        return len(self.file.read_text().splitlines())


class BenchmarkError(Exception):
    """A build or command of the benchmark failed: its numbers would mean nothing."""


def run(args: list[str], cwd: Path, counter: Counter, allowed: tuple[int, ...] = (0,)) -> Run:
    """A child process, its wall time, its peak memory (wait4's maxrss) and dot calls.

    An exit code outside `allowed` stops the benchmark (`BenchmarkError`)."""
    before = counter.calls()
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, stdout=out, stderr=out, env=counter.env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in allowed:
            # A failed build is not a fast one: stop, with the end of what it said.
            out.seek(0)
            said = out.read().decode("utf-8", "replace")[-3000:]
            raise BenchmarkError(
                f"{' '.join(Path(a).name for a in args[:4])} in {cwd.name} exited with "
                f"{proc.returncode}:\n{said}"
            )
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, cpu, usage.ru_maxrss / 1024, counter.calls() - before, proc.returncode)


def mkdocs_build(root: Path, counter: Counter) -> Run:
    return run([sys.executable, "-m", "mkdocs", "build", "-q"], root, counter)


def clean(root: Path) -> None:
    shutil.rmtree(root / "site", ignore_errors=True)
    shutil.rmtree(root / ".tm-docs-cache", ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _served(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode("utf-8", "replace"))
    except OSError:
        return ""


def _wait(url: str, text: str, limit: float) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        if text in _served(url):
            return time.perf_counter() - start
        time.sleep(0.05)
    raise RuntimeError(f"{text!r} did not appear at {url} within {limit:.0f} s")


def serve_reactions(
    root: Path,
    path: str,
    edit: Callable[[int], str],
    rounds: int,
    counter: Counter,
    *,
    dirty: bool = False,
) -> list[float]:
    """Seconds from saving a file to its new text being served by `mkdocs serve`
    (`--dirty`: rebuilding only the pages whose source changed)."""
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "serve",
            *(["--dirty"] if dirty else []),
            "-a",
            f"127.0.0.1:{port}",
        ],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=counter.env,
    )
    url = f"http://127.0.0.1:{port}/{path}"
    try:
        _wait(url, "</html>", 1200)
        time.sleep(2)  # let the first build's watcher settle
        reactions = []
        for n in range(rounds):
            text = edit(n)
            reactions.append(_wait(url, text, 600))
            time.sleep(1)
        return reactions
    finally:
        server.terminate()
        server.wait(timeout=30)


def diagram_bytes(site: Path) -> tuple[int, int, int]:
    """Bytes of the site's diagrams with their icon files, of the icon files alone,
    and of the same diagrams with their icons taken out."""
    with_icons = without = 0
    for svg in site.glob("threat-models/*/dfd.svg"):
        text = svg.read_bytes()
        with_icons += len(text)
        stripped = re.sub(rb"\n?<defs>.*?</defs>", b"", text, flags=re.S)
        stripped = re.sub(rb'<use xlink:href="#tm-icon-[^"]*"[^>]*/>', b"", stripped)
        without += len(stripped)
    icons = sum(p.stat().st_size for p in site.glob("threat-models/icons/*"))
    return with_icons + icons, icons, without


def site_bytes(site: Path) -> int:
    return sum(p.stat().st_size for p in site.rglob("*.html"))


def measure_serve(
    size: int, serve_rounds: int, root: Path, plain: Path, edited: str, counter: Counter, bar: Any
) -> dict[str, Any]:
    """`mkdocs serve` with and without `--dirty`, tm-docs and the plain site, interleaved."""
    portfolio = portfolio_at(root, size)
    plain_page = plain / "docs" / "threat-models" / edited / "index.md"
    result: dict[str, Any] = {}
    for key, dirty in (("serve", False), ("serve_dirty", True)):
        bar.set_description(f"{size} models: mkdocs serve{' --dirty' if dirty else ''}")
        tm_serve = serve_reactions(
            root,
            f"threat-models/{edited}/",
            lambda n, k=key: edit_model(portfolio, edited, f"{k.replace('_', ' ')} {n}"),
            serve_rounds,
            counter,
            dirty=dirty,
        )

        def edit_plain(n: int, k: str = key) -> str:
            data = plain_page.read_text(encoding="utf-8")
            plain_page.write_text(
                data + f"\nServed edit {k.replace('_', ' ')} {n}.\n", encoding="utf-8"
            )
            return f"Served edit {k.replace('_', ' ')} {n}."

        plain_serve = serve_reactions(
            plain, f"threat-models/{edited}/", edit_plain, serve_rounds, counter, dirty=dirty
        )
        result[key] = {
            "tm_docs_s": statistics.median(tm_serve),
            "plain_s": statistics.median(plain_serve),
        }
    return result


def measure(
    size: int, rounds: int, serve_rounds: int, work: Path, bar: Any, serve_only: bool = False
) -> dict[str, Any]:
    folder = work / f"m{size}"
    counter = Counter(folder)
    bar.set_description(f"{size} models: generating")
    # In a child process: a child's peak memory counts the memory of the process it was
    # started from, so this one stays small (it never holds a portfolio).
    subprocess.run([sys.executable, __file__, "--generate", str(size), str(folder)], check=True)
    portfolio = portfolio_at(folder / "site", size)
    plain = folder / "plain"
    edited = portfolio.model_ids[size // 2]
    plain_page = plain / "docs" / "threat-models" / edited / "index.md"
    if serve_only:
        bar.set_description(f"{size} models: one build")
        mkdocs_build(portfolio.root, counter)  # the diagram cache, as a serving author has it
        return {
            "models": size,
            **measure_serve(size, serve_rounds, portfolio.root, plain, edited, counter, bar),
        }
    samples: dict[str, Sample] = {k: Sample() for k in ("cold", "warm", "edit")}
    plains: dict[str, Sample] = {k: Sample() for k in ("cold", "warm", "edit")}
    for r in range(rounds):
        bar.set_description(f"{size} models: builds, round {r + 1}/{rounds}")
        clean(portfolio.root)
        clean(plain)
        samples["cold"].runs.append(mkdocs_build(portfolio.root, counter))
        plains["cold"].runs.append(mkdocs_build(plain, counter))
        samples["warm"].runs.append(mkdocs_build(portfolio.root, counter))
        plains["warm"].runs.append(mkdocs_build(plain, counter))
        edit_model(portfolio, edited, f"round {r}")
        with plain_page.open("a", encoding="utf-8") as page:
            page.write(f"\nEdited in round {r}.\n")
        samples["edit"].runs.append(mkdocs_build(portfolio.root, counter))
        plains["edit"].runs.append(mkdocs_build(plain, counter))
    result: dict[str, Any] = {"models": size}
    for kind in ("cold", "warm", "edit"):
        tm, base = samples[kind], plains[kind]
        result[kind] = {
            "tm_docs_s": tm.median("seconds"),
            "plain_s": base.median("seconds"),
            "ratio": tm.median("seconds") / base.median("seconds"),
            "tm_docs_cpu_s": tm.median("cpu"),
            "plain_cpu_s": base.median("cpu"),
            "cpu_ratio": tm.median("cpu") / base.median("cpu"),
            "dot_calls": int(tm.median("dot_calls")),
            "tm_docs_peak_mib": tm.median("peak_mib"),
            "plain_peak_mib": base.median("peak_mib"),
        }
    pages = len(list((portfolio.root / "site").glob("threat-models/**/index.html")))
    result["pages"] = pages
    total, icons, without = diagram_bytes(portfolio.root / "site")
    result["diagrams"] = {"bytes": total, "icon_bytes": icons, "without_icons": without}
    result["site_html_bytes"] = site_bytes(portfolio.root / "site")
    result["site_pages_kb"] = {
        name: (portfolio.root / "site" / "threat-models" / name / "index.html").stat().st_size
        // 1024
        for name in ("backlog", "stride", "assets", "coverage", "heatmap")
    }

    bar.set_description(f"{size} models: navigation.prune")
    write_config(portfolio.root, tm_docs=True, prune=True)
    mkdocs_build(portfolio.root, counter)  # a new configuration: the first build is not warm
    pruned = mkdocs_build(portfolio.root, counter)
    result["prune"] = {
        "warm_s": pruned.seconds,
        "warm_cpu_s": pruned.cpu,
        # Against the warm builds without it: the same pages, one config option apart.
        "cpu_ratio": pruned.cpu / samples["warm"].median("cpu"),
        "site_html_bytes": site_bytes(portfolio.root / "site"),
    }
    write_config(portfolio.root, tm_docs=True)
    mkdocs_build(portfolio.root, counter)  # the site as it was, for serve

    bar.set_description(f"{size} models: tm-docs check / generate")
    tm_docs = [str(Path(sys.executable).parent / "tm-docs")]
    # `check` exits 1 when the models fail its policy (a result, not a failure of the run).
    check = [run([*tm_docs, "check"], portfolio.root, counter, (0, 1)) for _ in range(rounds)]
    out = folder / "generated"
    generate = []
    for _ in range(rounds):
        shutil.rmtree(out, ignore_errors=True)
        generate.append(run([*tm_docs, "generate", str(out)], portfolio.root, counter))
    result["check"] = {
        "s": statistics.median(r.seconds for r in check),
        "peak_mib": statistics.median(r.peak_mib for r in check),
        "dot_calls": check[0].dot_calls,
    }
    result["generate"] = {
        "s": statistics.median(r.seconds for r in generate),
        "peak_mib": statistics.median(r.peak_mib for r in generate),
        "dot_calls": generate[0].dot_calls,
    }

    if serve_rounds:
        result.update(
            measure_serve(size, serve_rounds, portfolio.root, plain, edited, counter, bar)
        )
    return result


def commit() -> str:
    """The tm-docs commit measured (and whether its working tree had changes)."""
    here = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=here, capture_output=True, text=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{sha or 'unknown'}{' with uncommitted changes' if changed else ''}"


def machine() -> str:
    cpu = "unknown processor"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    dot = subprocess.run(["dot", "-V"], capture_output=True, text=True).stderr.strip()
    return f"{os.cpu_count()} cores, {cpu}; Python {sys.version.split()[0]}; {dot}"


def _ratios(kind: dict[str, float]) -> str:
    return (
        f"{kind['ratio']:.2f}x ({kind['cpu_ratio']:.2f}x); "
        f"{kind['tm_docs_s']:.1f} s / {kind['plain_s']:.1f} s"
    )


def serve_table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| models | `mkdocs serve`: saved to served (tm-docs / plain) | `mkdocs serve --dirty` |",
        "|---|---|---|",
    ]
    for r in results:
        shown = []
        for key in ("serve", "serve_dirty"):
            serve = r.get(key)
            shown.append(f"{serve['tm_docs_s']:.1f} s / {serve['plain_s']:.1f} s" if serve else "—")
        lines.append(f"| {r['models']} | {shown[0]} | {shown[1]} |")
    return "\n".join(lines)


def _peaks(r: dict[str, Any]) -> str:
    return " / ".join(
        f"{r[kind]['tm_docs_peak_mib']:.0f}:{r[kind]['plain_peak_mib']:.0f}"
        for kind in ("cold", "warm", "edit")
    )


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| models | pages | cold vs plain (CPU) | warm vs plain (CPU) "
        "| one model edited vs plain (CPU) "
        "| peak MiB, cold / warm / edited (tm-docs:plain) | Graphviz calls (cold / warm / edit) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['models']} | {r['pages']} "
            f"| {_ratios(r['cold'])} | {_ratios(r['warm'])} | {_ratios(r['edit'])} "
            f"| {_peaks(r)} "
            f"| {r['cold']['dot_calls']} / {r['warm']['dot_calls']} / {r['edit']['dot_calls']} |"
        )
    lines += [
        "",
        "| models | check | generate | diagram bytes (with icon files) | without icons "
        "| ratio | site HTML | with navigation.prune (warm build, CPU vs without) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        d = r["diagrams"]
        pruned = r["prune"]
        lines.append(
            f"| {r['models']} | {r['check']['s']:.1f} s, {r['check']['peak_mib']:.0f} MiB, "
            f"{r['check']['dot_calls']} dot "
            f"| {r['generate']['s']:.1f} s, {r['generate']['peak_mib']:.0f} MiB, "
            f"{r['generate']['dot_calls']} dot "
            f"| {d['bytes'] / 1e6:.2f} MB ({d['icon_bytes'] / 1e3:.0f} kB icons) "
            f"| {d['without_icons'] / 1e6:.2f} MB | {d['bytes'] / d['without_icons']:.2f}x "
            f"| {r['site_html_bytes'] / 1e6:.0f} MB "
            f"| {pruned['site_html_bytes'] / 1e6:.0f} MB "
            f"({pruned['site_html_bytes'] / r['site_html_bytes'] - 1:+.0%}), "
            f"{pruned['warm_s']:.1f} s ({pruned['cpu_ratio']:.2f}x) |"
        )
    lines += ["", "| models | site-wide pages, HTML kB |", "|---|---|"]
    for r in results:
        sizes = ", ".join(f"{k} {v:,}" for k, v in r["site_pages_kb"].items())
        lines.append(f"| {r['models']} | {sizes} |")
    if any("serve" in r for r in results):
        lines += ["", serve_table(results)]
    lines += ["", goals_table(results)]
    return "\n".join(lines)


# The goals of the benchmark (issue 14), each as a limit on one measured number.
GOALS: tuple[tuple[str, str, float], ...] = (
    ("cold build, CPU vs plain", "cold", 1.30),
    ("warm build, CPU vs plain", "warm", 1.10),
    ("one model edited, CPU vs plain", "edit", 1.15),
    ("peak memory, warm, vs plain", "peak", 1.15),
    ("diagram bytes vs without icons", "diagrams", 1.20),
)


def goal_values(r: dict[str, Any]) -> dict[str, float]:
    """The measured number each goal limits, for one portfolio."""
    d = r["diagrams"]
    return {
        "cold": r["cold"]["cpu_ratio"],
        "warm": r["warm"]["cpu_ratio"],
        "edit": r["edit"]["cpu_ratio"],
        "peak": r["warm"]["tm_docs_peak_mib"] / r["warm"]["plain_peak_mib"],
        "diagrams": d["bytes"] / d["without_icons"],
    }


def goals_table(results: list[dict[str, Any]]) -> str:
    """Each goal against each portfolio's number: met or missed."""
    sizes = [r["models"] for r in results]
    lines = [
        "| goal | " + " | ".join(f"{n} models" for n in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    values = [goal_values(r) for r in results]
    for label, key, limit in GOALS:
        cells = [f"{v[key]:.2f}x {'met' if v[key] <= limit else 'missed'}" for v in values]
        lines.append(f"| {label} ≤ {limit:.2f}x | " + " | ".join(cells) + " |")
    if any("serve_dirty" in r for r in results):
        cells = []
        for r in results:
            served = r.get("serve_dirty")
            seconds = served["tm_docs_s"] if served else None
            cells.append(
                "—" if seconds is None else f"{seconds:.1f} s {'met' if seconds < 2 else 'missed'}"
            )
        label = "`mkdocs serve --dirty`, saved to served < 2 s (the goal is for 150 models)"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def generate(size: int, folder: Path) -> None:
    portfolio = make_portfolio(folder / "site", size, commits=2000)
    make_baseline(portfolio, folder / "plain")


def main() -> None:
    if sys.argv[1:2] == ["--generate"]:
        generate(int(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, nargs="+", default=[50, 150, 500])
    parser.add_argument("--rounds", type=int, default=3, help="builds of each kind (median)")
    parser.add_argument("--serve-rounds", type=int, default=3, help="edits while serving")
    parser.add_argument("--quick", action="store_true", help="20 models, one round")
    parser.add_argument(
        "--serve-only",
        action="store_true",
        help="only `mkdocs serve` with and without --dirty (after one warm build)",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if args.quick:
        args.models, args.rounds, args.serve_rounds = [20], 1, 1
    work = Path(tempfile.mkdtemp(prefix="tm-docs-portfolio-"))
    results = []
    try:
        # Progress on a terminal; one line per portfolio in CI logs and pipes.
        quiet = bool(os.environ.get("CI")) or not sys.stderr.isatty()
        with tqdm(total=len(args.models), unit="portfolio", disable=quiet) as bar:
            for size in args.models:
                if quiet:
                    print(f"measuring {size} models ...", file=sys.stderr, flush=True)
                try:
                    results.append(
                        measure(size, args.rounds, args.serve_rounds, work, bar, args.serve_only)
                    )
                except BenchmarkError as error:
                    sys.exit(f"benchmark stopped at {size} models: {error}")
                bar.update()
                if args.json:  # after each portfolio, so a long run keeps what it measured
                    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"Machine: {machine()}")
    print(f"tm-docs: {commit()}; load average at the end: {os.getloadavg()[0]:.1f}")
    if args.serve_only:
        print(f"Serve only, after one warm build; median of {args.serve_rounds} edit(s).")
    else:
        print(
            f"Median of {args.rounds} interleaved round(s); serve: median of {args.serve_rounds}."
        )
    print()
    print(serve_table(results) if args.serve_only else table(results))


if __name__ == "__main__":
    main()
