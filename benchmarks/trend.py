"""The risk trend of many models over a long history, against plain git.

Builds the synthetic repository of `staleness.py` (default: 150 models, 2,000
commits; about one commit in ten changes a model file) with `git fast-import`,
then times:

1. cold, in a build: a new pipeline makes the trend of every model from the
   history the build has read for staleness (one `git log` pass, shared), so
   the trend's own part is one `git cat-file --batch` run for every version of
   every model file and their analysis; and of that the `cat-file` run alone;
2. cold, alone: the same with the history read as well (a build with staleness
   turned off, or `tm-docs trend`: only the changes of the models folder are
   read), and of that the git part alone (that history and the contents of
   every version);
3. warm: the same pipeline again with the history of the build, as on a
   `mkdocs serve` rebuild (HEAD has not moved: nothing is read or analysed
   again);
4. warm from disk: a new pipeline with the disk cache filled by (1), as on the
   next `mkdocs build` (the history is read again, no version is analysed);
5. one plain `git log --name-only` pass over the same repository.

Goal: (1) / (5) <= 2, and (3) about 0.  The versions of a model in this
repository differ by a comment only, and versions with the same data are
analysed once; `--data-edits` changes each version's title too, so that every
version is analysed.  Run from the repository root:
.venv/bin/python benchmarks/trend.py [--models N] [--commits N] [--data-edits]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import tempfile
from pathlib import Path

from staleness import build_repo, timed

from tm_docs.analysis.settings import Settings
from tm_docs.load.history import History, read_history
from tm_docs.load.revisions import read_blobs
from tm_docs.pipeline import Pipeline, load_checked, report_of


def cpu_timed(action, runs: int = 3):  # type: ignore[no-untyped-def]
    """Best of a few runs in CPU seconds, of this process and the git processes it waited
    for: steadier than wall time on a shared machine."""
    best = float("inf")
    for _ in range(runs):
        before = _cpu()
        action()
        best = min(best, _cpu() - before)
    return best


def _cpu() -> float:
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=150)
    parser.add_argument("--commits", type=int, default=2_000)
    parser.add_argument(
        "--data-edits", action="store_true", help="every version of a model holds other data"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        print(f"building a repository: {args.models} models, {args.commits} commits ...")
        build_repo(root, args.models, args.commits, data_edits=args.data_edits)
        settings = Settings(root=root, models_dir=root / "models")
        disk = Settings(root=root, models_dir=root / "models", cache_dir=root / ".cache")
        report = report_of(settings, load_checked(settings))
        read = read_history(root)  # what a build's staleness check has read
        assert isinstance(read, History)
        blobs = sorted(
            {
                r.blob
                for m in report.models
                for r in read.revisions(f"models/{m.loaded.path.name}")
                if r.blob
            }
        )

        def trend_of(pipeline: Pipeline, history: History | None = None) -> int:
            trends, _, _ = pipeline.trends(report, {}, history=history)
            return sum(len(t.points) for t in trends.models.values())

        def contents() -> int:
            return len(read_blobs(root, blobs))

        def git_part() -> int:
            history = read_history(root, within=root / "models")  # as the trend alone reads it
            assert isinstance(history, History)
            return len(read_blobs(root, blobs))

        def plain() -> None:
            subprocess.run(
                ["git", "log", "--name-only", "HEAD"], cwd=root, capture_output=True, check=True
            )

        plain()  # warm the file-system cache, as a build on a working copy would be
        t_build, points = timed(lambda: trend_of(Pipeline(settings), read))
        t_contents, versions = timed(contents)
        t_alone, _ = timed(lambda: trend_of(Pipeline(settings)))
        t_git, _ = timed(git_part)
        warm = Pipeline(settings)
        trend_of(warm)
        history = warm.history()
        assert isinstance(history, History)
        t_warm, _ = timed(lambda: trend_of(warm, history))
        assert warm._versions.stats.analysed == 0
        trend_of(Pipeline(disk))  # fills the disk cache
        t_disk, _ = timed(lambda: trend_of(Pipeline(disk)))
        t_plain, _ = timed(plain)
        c_alone = cpu_timed(lambda: trend_of(Pipeline(settings)))
        c_plain = cpu_timed(plain)
        analysis = (t_build - t_contents) / versions * 1000
        print(f"points in the trend: {points}, of {versions} distinct versions")
        print(f"cold, in a build (history shared):  {t_build:7.3f} s")
        print(f"  of which git (contents):          {t_contents:7.3f} s")
        print(f"cold, alone (history read too):     {t_alone:7.3f} s")
        print(f"  of which git (history + contents):{t_git:7.3f} s")
        print(f"warm (same pipeline, HEAD unmoved): {t_warm:7.3f} s")
        print(f"warm from the disk cache:           {t_disk:7.3f} s")
        print(f"git log --name-only, one pass:      {t_plain:7.3f} s")
        print(f"ratio cold in a build / git log:    {t_build / t_plain:7.2f}x  (goal <= 2x)")
        print(f"ratio cold alone / git log:         {t_alone / t_plain:7.2f}x")
        print(f"ratio git part alone / git log:     {t_git / t_plain:7.2f}x")
        print(f"CPU, cold alone / git log:          {c_alone:.3f} s / {c_plain:.3f} s")
        print(f"ratio of CPU, cold alone / git log: {c_alone / c_plain:7.2f}x")
        print(f"cold analysis per version:          {analysis:7.2f} ms")


if __name__ == "__main__":
    main()
