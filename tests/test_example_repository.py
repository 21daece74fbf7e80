"""The example models tell the truth about this repository's own history.

The example site is built from `models/` in this very repository, so what it says
about staleness comes from this repository's git history.  These tests keep that
story true as the repository grows: review markers name commits that exist, the
watched globs match files of the example code tree (`example/`), no model page
carries a message about a broken reference, and at least one example model is
stale, so the site shows the feature at work.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tm_docs.analysis.globs import matches_any
from tm_docs.analysis.staleness import Staleness, State, staleness, watched
from tm_docs.load.history import History, read_history
from tm_docs.load.models import LoadedModel, load_models

from .conftest import EXAMPLE_MODELS, REPO

# The models of the fictional shop; other models in models/ describe real code.
EXAMPLE_IDS = ("checkout", "identity", "notifications")

HOW_TO_FIX_NO_STALE = (
    "no example model is stale, so the example site cannot show staleness. Commit a small, "
    "realistic code change under the watch of one example model without touching that model "
    "(for example a new outbound call in example/services/notifications/). A merge commit "
    "that brings in a model change together with code changes reviews that model, so this "
    "can also happen right after a merge."
)


@pytest.fixture(scope="module")
def history() -> History:
    if shutil.which("git") is None:
        pytest.skip("git is not installed; the example's history cannot be read")
    result = read_history(REPO)
    if not isinstance(result, History):
        if "shallow" in result.reason or "not inside a git repository" in result.reason:
            pytest.skip(f"this checkout has no full history: {result.reason}")
        pytest.fail(result.reason)
    return result


@pytest.fixture(scope="module")
def models() -> tuple[LoadedModel, ...]:
    result = load_models([EXAMPLE_MODELS])
    assert result.ok, [str(p) for p in result.problems]
    assert {m.model.id for m in result.models} >= set(EXAMPLE_IDS)
    return result.models


@pytest.fixture(scope="module")
def verdicts(models: tuple[LoadedModel, ...], history: History) -> dict[str, Staleness]:
    return {m.model.id: staleness(m, history) for m in models}


def test_every_review_commit_is_in_the_history(
    models: tuple[LoadedModel, ...], history: History
) -> None:
    for loaded in models:
        review = loaded.model.review
        if review is not None and review.commit is not None:
            assert history.find(review.commit) is not None, (
                f"{loaded.display_path}: review commit {review.commit} is not in the history "
                "of this repository; name a commit of this repository or give a date only"
            )


def test_no_verdict_mentions_a_broken_reference(verdicts: dict[str, Staleness]) -> None:
    for model_id, verdict in verdicts.items():
        assert verdict.state is not State.UNKNOWN, (model_id, verdict.reason)
        assert "is not in the history" not in verdict.reason, (model_id, verdict.reason)
        assert "in the future" not in verdict.reason, (model_id, verdict.reason)


def test_at_least_one_example_model_is_stale(verdicts: dict[str, Staleness]) -> None:
    stale = {i for i in EXAMPLE_IDS if verdicts[i].state is State.STALE}
    assert stale, HOW_TO_FIX_NO_STALE
    for model_id in stale:
        # Stale because of commits to the example code, not only because of age.
        files = [f for change in verdicts[model_id].changes for f in change.files]
        assert files, (model_id, verdicts[model_id].reason)
        assert all(f.startswith("example/") for f in files), (model_id, files)


def test_not_every_example_model_is_stale(verdicts: dict[str, Staleness]) -> None:
    fresh = {i for i in EXAMPLE_IDS if verdicts[i].state is State.FRESH}
    assert fresh, "every example model is stale: review one (see docs/guide/tutorial.md)"


def test_every_watched_glob_matches_a_file_of_the_example_tree(
    models: tuple[LoadedModel, ...], history: History
) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "-z", "example"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    assert len(tracked) > 10
    for loaded in models:
        if loaded.model.id not in EXAMPLE_IDS:
            continue
        for pattern in watched(loaded.model):
            assert pattern.startswith("example/"), (loaded.display_path, pattern)
            assert any(matches_any(path, [pattern]) for path in tracked if path), (
                f"{loaded.display_path}: '{pattern}' matches no file under example/"
            )


def test_the_stale_command_says_the_same(verdicts: dict[str, Staleness]) -> None:
    exe = shutil.which("tm-docs", path=str(Path(sys.executable).parent)) or "tm-docs"
    proc = subprocess.run([exe, "stale"], cwd=REPO, capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr  # 1: a model is stale
    assert "is not in the history" not in proc.stdout + proc.stderr
    lines = {line.split(":")[0]: line for line in proc.stdout.splitlines() if ": " in line}
    for model_id, verdict in verdicts.items():
        assert lines[model_id].startswith(f"{model_id}: {verdict.state.value} - "), lines
