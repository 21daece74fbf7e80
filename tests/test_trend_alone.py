"""The risk trend alone (`tm-docs trend`, a site with staleness off): it reads only the
models folder's history, and must give what the whole history gives."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tm_docs.analysis.trend import Trends
from tm_docs.load.history import History, read_history
from tm_docs.pipeline import Pipeline, load_checked, report_of
from tm_docs.render import trend_report

from .gitrepo import GitRepo
from .test_trend import BROKEN, ORDERS_V1, ORDERS_V2, ORDERS_V4, OTHER, _settings, tm_docs


def _whole(root: Path) -> Trends:
    """The trend from the whole history, with the staleness verdicts' review points."""
    settings = _settings(root)
    report = report_of(settings, load_checked(settings))
    pipeline = Pipeline(settings)
    history = pipeline.history()
    assert isinstance(history, History) and history.scope is None
    verdicts, _ = pipeline.staleness([m.loaded for m in report.models], history=history)
    trends, _, warnings = pipeline.trends(report, verdicts, history=history)
    assert not warnings
    return trends


def _alone(root: Path) -> tuple[Trends, Pipeline]:
    settings = _settings(root, staleness=False)
    report = report_of(settings, load_checked(settings))
    pipeline = Pipeline(settings)
    trends, _, warnings = pipeline.trends(report)
    assert not warnings
    return trends, pipeline


@pytest.fixture
def branchy(tmp_path: Path) -> GitRepo:
    """Reviews, a broken version, a rename inside the folder, a merged branch, and commits
    that touch only other files."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit("Orders", "2026-01-05T10:00:00Z", {"models/orders.yaml": ORDERS_V1})
    repo.commit("Code", "2026-01-06T10:00:00Z", {"src/app.py": "x = 1\n"})
    repo.git("checkout", "-q", "-b", "side")
    repo.commit("Other on a branch", "2026-01-10T10:00:00Z", {"models/other.yaml": OTHER})
    repo.git("checkout", "-q", "main")
    repo.commit("M1 done", "2026-02-01T10:00:00Z", {"models/orders.yaml": ORDERS_V2})
    repo.git("merge", "-q", "--no-ff", "-m", "Merge side", "side", date="2026-02-05T10:00:00Z")
    repo.commit("Oops", "2026-02-10T10:00:00Z", {"models/orders.yaml": BROKEN})
    repo.git("mv", "models/orders.yaml", "models/shop.yaml")
    repo.commit("Rename", "2026-02-12T10:00:00Z")
    repo.commit("More code", "2026-02-15T10:00:00Z", {"src/app.py": "x = 2\n"})
    repo.commit("Reviewed", "2026-03-01T12:00:00Z", {"models/shop.yaml": ORDERS_V4})
    return repo


def test_the_trend_alone_reads_the_models_folder_and_equals_the_whole_history(
    branchy: GitRepo,
) -> None:
    trends, pipeline = _alone(branchy.root)
    read = pipeline._history
    assert read is not None and read.scope == "models"
    whole = read_history(branchy.root)
    assert isinstance(whole, History)
    # Every commit is there (positions, review commits), only other files' changes are not.
    assert [c.sha for c in read.commits] == [c.sha for c in whole.commits]
    assert "src/app.py" in whole.paths and "src/app.py" not in read.paths
    assert trends == _whole(branchy.root)
    orders = trends.models["orders"]
    assert [(p.commit.subject, p.path) for p in orders.points] == [
        ("Orders", "models/orders.yaml"),
        ("M1 done", "models/orders.yaml"),
        ("Oops", "models/orders.yaml"),
        ("Reviewed", "models/shop.yaml"),
    ]
    assert [r.label for r in orders.reviews][-1] == "last review 2026-03-01"


def test_a_file_renamed_into_the_folder_from_outside_is_followed_back(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("Drafted elsewhere", "2026-01-05T10:00:00Z", {"drafts/orders.yaml": ORDERS_V1})
    repo.commit("Draft grows", "2026-01-08T10:00:00Z", {"drafts/orders.yaml": ORDERS_V2})
    (repo.root / "models").mkdir()
    repo.git("mv", "drafts/orders.yaml", "models/orders.yaml")
    repo.commit("Moved in", "2026-01-10T10:00:00Z")
    repo.commit("Other", "2026-01-12T10:00:00Z", {"models/other.yaml": OTHER})
    read = read_history(repo.root, within=repo.root / "models")
    assert isinstance(read, History) and read.scope is None  # read whole, to follow it
    trends, _ = _alone(repo.root)
    assert trends == _whole(repo.root)
    assert [p.path for p in trends.models["orders"].points] == [
        "drafts/orders.yaml",
        "drafts/orders.yaml",
    ]


def test_a_file_moved_out_beside_a_similar_new_one_is_not_taken_for_a_rename(
    tmp_path: Path,
) -> None:
    """The folder's log alone pairs the file that left with the new one as a rename; the
    whole tree's diff says one was moved out and the other is new."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit("Orders", "2026-01-05T10:00:00Z", {"models/orders.yaml": ORDERS_V2})
    (repo.root / "archive").mkdir()
    repo.git("mv", "models/orders.yaml", "archive/orders.yaml")
    similar = ORDERS_V2.replace("id: orders", "id: shop", 1) + "# the shop's own copy\n"
    repo.commit("Archived, and a shop model", "2026-01-08T10:00:00Z", {"models/shop.yaml": similar})
    read = read_history(repo.root, within=repo.root / "models")
    assert isinstance(read, History) and read.scope is None  # read whole, as git pairs it
    trends, _ = _alone(repo.root)
    assert trends == _whole(repo.root)
    assert [p.path for p in trends.models["shop"].points] == ["models/shop.yaml"]


def test_a_file_moved_in_while_a_similar_one_leaves_follows_the_one_moved_in(
    tmp_path: Path,
) -> None:
    """The folder's log alone takes the file moved in for a rename of the one deleted."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit("Orders", "2026-01-05T10:00:00Z", {"models/orders.yaml": ORDERS_V2})
    draft = ORDERS_V2.replace("id: orders", "id: shop", 1) + "# drafted elsewhere\n"
    repo.commit("Drafted", "2026-01-06T10:00:00Z", {"drafts/shop.yaml": draft})
    repo.git("rm", "-q", "models/orders.yaml")
    (repo.root / "models").mkdir(exist_ok=True)  # git rm took the emptied folder
    repo.git("mv", "drafts/shop.yaml", "models/shop.yaml")
    repo.commit("The draft replaces it", "2026-01-08T10:00:00Z")
    read = read_history(repo.root, within=repo.root / "models")
    assert isinstance(read, History) and read.scope is None
    trends, _ = _alone(repo.root)
    assert trends == _whole(repo.root)
    assert [p.path for p in trends.models["shop"].points] == ["drafts/shop.yaml"]


def test_a_new_model_file_keeps_the_scoped_read(tmp_path: Path) -> None:
    """A file added to the folder (not moved into it) is asked about once, and the read
    stays the folder's."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit("Orders", "2026-01-05T10:00:00Z", {"models/orders.yaml": ORDERS_V1})
    repo.commit("Code", "2026-01-06T10:00:00Z", {"src/other.yaml": OTHER})
    repo.commit("Other", "2026-01-12T10:00:00Z", {"models/other.yaml": OTHER})
    read = read_history(repo.root, within=repo.root / "models")
    assert isinstance(read, History) and read.scope == "models"
    trends, _ = _alone(repo.root)
    assert trends == _whole(repo.root)


def test_uncommitted_changes_make_the_review_point_now(branchy: GitRepo) -> None:
    branchy.write("models/shop.yaml", ORDERS_V4 + "# being edited\n")
    branchy.write("src/app.py", "x = 3\n")  # outside the folder: not read, not needed
    before = dt.datetime.now(dt.timezone.utc)
    trends, pipeline = _alone(branchy.root)
    assert pipeline._history is not None and pipeline._history.dirty == {"models/shop.yaml"}
    last = trends.models["orders"].reviews[-1]
    assert last.current and last.time >= before
    assert last.label == f"last review {last.time.date().isoformat()}"
    # Other than the time of that mark, the same as from the whole history.
    whole = _whole(branchy.root)
    assert trends.models["orders"].points == whole.models["orders"].points
    assert trends.models["other"] == whole.models["other"]


def test_a_shallow_clone_is_unknown_with_the_same_warning(branchy: GitRepo, tmp_path: Path) -> None:
    clone = branchy.clone(tmp_path / "shallow", "--depth", "1")
    settings = _settings(clone)
    report = report_of(settings, load_checked(settings))
    pipeline = Pipeline(settings)
    _, stale_warnings = pipeline.staleness([m.loaded for m in report.models])
    trends, _, warnings = Pipeline(settings).trends(report)
    assert trends.unknown is not None and warnings == [trends.unknown]
    assert trends.unknown == "".join(stale_warnings).replace(
        "stale models cannot be found: ", ""
    ).replace("so staleness is unknown", "so the risk trend is unknown")


def test_a_scoped_read_is_not_reused_for_staleness(branchy: GitRepo) -> None:
    pipeline = Pipeline(_settings(branchy.root))
    scoped = pipeline.history(models_only=True)
    assert isinstance(scoped, History) and scoped.scope == "models"
    whole = pipeline.history()
    assert isinstance(whole, History) and whole.scope is None and "src/app.py" in whole.paths
    # The whole history serves a later trend-only read as it is.
    again = pipeline.history(models_only=True)
    assert isinstance(again, History) and again.commits is whole.commits
    with pytest.raises(ValueError):
        from tm_docs.analysis.staleness import staleness

        settings = _settings(branchy.root)
        staleness(load_checked(settings).models[0], scoped)


def test_cli_trend_equals_the_trend_of_the_whole_history(branchy: GitRepo) -> None:
    result = tm_docs(branchy.root, "trend", "--format", "json")
    assert result.returncode == 0, result.stderr
    whole = _whole(branchy.root)
    settings = _settings(branchy.root)
    shown = [whole.models[m.model.id] for m in report_of(settings, load_checked(settings)).models]
    expected = trend_report.as_json(whole, shown, settings.bands)
    assert json.loads(result.stdout) == json.loads(expected)


def test_a_site_without_staleness_marks_the_review_point_as_the_trend_command_does(
    branchy: GitRepo,
) -> None:
    settings = _settings(branchy.root, staleness=False, diagrams=False, cache_dir=None)
    pipeline = Pipeline(settings)
    site = pipeline.build()
    assert isinstance(pipeline._history, History) and pipeline._history.scope == "models"
    report = report_of(settings, load_checked(settings))
    alone, _, _ = Pipeline(settings).trends(report)
    assert [r.label for r in alone.models["orders"].reviews][-1] == "last review 2026-03-01"
    page = next(f for f in site.files if f.path.endswith("orders/index.md"))
    assert "last review 2026-03-01" in str(page.content)


def test_a_model_path_is_placed_in_the_repository_as_its_resolved_path(tmp_path: Path) -> None:
    """Paths are resolved with each folder resolved once; a linked folder, a linked file and
    '..' land where `Path.resolve` puts them."""
    root = tmp_path / "repo"
    (root / "models").mkdir(parents=True)
    (root / "elsewhere").mkdir()
    (root / "models" / "a.yaml").write_text("x", encoding="utf-8")
    (root / "elsewhere" / "b.yaml").write_text("x", encoding="utf-8")
    (root / "linked").symlink_to(root / "models")
    (root / "models" / "b.yaml").symlink_to(root / "elsewhere" / "b.yaml")
    (tmp_path / "outside.yaml").write_text("x", encoding="utf-8")
    (root / "models" / "out.yaml").symlink_to(tmp_path / "outside.yaml")
    history = History(root.resolve(), "0" * 40, ())
    asked = {
        "models/a.yaml": "models/a.yaml",
        "linked/a.yaml": "models/a.yaml",
        "models/b.yaml": "elsewhere/b.yaml",
        "linked/b.yaml": "elsewhere/b.yaml",
        "models/out.yaml": None,
        "models/..": ".",
        "linked/../models/a.yaml": "models/a.yaml",
    }
    for _ in range(2):  # the second time from what was resolved before
        for path, expected in asked.items():
            found = history.relative(root / path)
            assert found == expected, path
