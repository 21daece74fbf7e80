"""The risk trend of many models over a long history, against plain git.

Builds the synthetic repository of `staleness.py` (default: 150 models, 2,000
commits; about one commit in ten changes a model file) with `git fast-import`,
then times:

1. cold: a new pipeline reads the history and analyses every version of every
   model file (one `git log` pass, one `git cat-file --batch` run), and of that
   the git part alone: the history and the contents of every version;
2. warm: the same pipeline again with the history of the build, as on a
   `mkdocs serve` rebuild (HEAD has not moved: nothing is read or analysed
   again; the staleness check of the build has read the history);
3. warm from disk: a new pipeline with the disk cache filled by (1), as on the
   next `mkdocs build` (the history is read again, no version is analysed);
4. one plain `git log --name-only` pass over the same repository.

Goal: (1) / (4) <= 2, and (2) about 0.  Run from the repository root:
.venv/bin/python benchmarks/trend.py [--models N] [--commits N]
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from staleness import build_repo, timed

from tm_docs.analysis.settings import Settings
from tm_docs.load.history import History, read_history
from tm_docs.load.revisions import read_blobs
from tm_docs.pipeline import Pipeline, load_checked, report_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=int, default=150)
    parser.add_argument("--commits", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        print(f"building a repository: {args.models} models, {args.commits} commits ...")
        build_repo(root, args.models, args.commits)
        settings = Settings(root=root, models_dir=root / "models")
        disk = Settings(root=root, models_dir=root / "models", cache_dir=root / ".cache")
        report = report_of(settings, load_checked(settings))

        def trend_of(pipeline: Pipeline, history: History | None = None) -> int:
            trends, _, _ = pipeline.trends(report, {}, history=history)
            return sum(len(t.points) for t in trends.models.values())

        def git_part() -> int:
            history = read_history(root)
            assert isinstance(history, History)
            blobs = {
                r.blob
                for m in report.models
                for r in history.revisions(f"models/{m.loaded.path.name}")
                if r.blob
            }
            return len(read_blobs(root, sorted(blobs)))

        def plain() -> None:
            subprocess.run(
                ["git", "log", "--name-only", "HEAD"], cwd=root, capture_output=True, check=True
            )

        plain()  # warm the file-system cache, as a build on a working copy would be
        t_cold, points = timed(lambda: trend_of(Pipeline(settings)))
        t_git, versions = timed(git_part)
        warm = Pipeline(settings)
        trend_of(warm)
        history = warm.history()
        assert isinstance(history, History)
        t_warm, _ = timed(lambda: trend_of(warm, history))
        assert warm._versions.stats.analysed == 0
        trend_of(Pipeline(disk))  # fills the disk cache
        t_disk, _ = timed(lambda: trend_of(Pipeline(disk)))
        t_plain, _ = timed(plain)
        print(f"points in the trend: {points}, of {versions} distinct versions")
        print(f"cold, all {len(report.models)} models:          {t_cold:7.3f} s")
        print(f"  of which git (history + contents): {t_git:7.3f} s")
        print(f"warm (same pipeline, HEAD unmoved): {t_warm:7.3f} s")
        print(f"warm from the disk cache:           {t_disk:7.3f} s")
        print(f"git log --name-only, one pass:      {t_plain:7.3f} s")
        print(f"ratio cold / git log:               {t_cold / t_plain:7.2f}x  (goal <= 2x)")
        print(f"ratio git part / git log:           {t_git / t_plain:7.2f}x")
        print(f"cold analysis per version:          {(t_cold - t_git) / versions * 1000:7.2f} ms")


if __name__ == "__main__":
    main()
