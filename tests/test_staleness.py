"""Stale models from real git history: commits at fixed dates in repositories in tmp_path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tm_docs.analysis.globs import matches_any
from tm_docs.analysis.staleness import LastReview, State, last_review, staleness
from tm_docs.load.history import History, Unavailable, read_history
from tm_docs.load.models import load_models

from .gitrepo import GitRepo


def model_text(model_id: str, watch: list[str], review: str = "") -> str:
    return (
        f"format_version: 1\nid: {model_id}\ntitle: {model_id.title()}\nowner: team-a\n"
        f"watch: {watch}\n"
        + (f"review: {review}\n" if review else "")
        + "components:\n  - {id: api, title: API, kind: process, paths: ['services/"
        + model_id
        + "/api/**']}\n"
    )


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.commit(
        "Add the models and services",
        "2026-01-05T10:00:00Z",
        {
            "models/orders.yaml": model_text("orders", ["services/orders/**"]),
            "models/payments.yaml": model_text("payments", ["services/payments/*.py"]),
            "services/orders/app.py": "v1\n",
            "services/payments/app.py": "v1\n",
            "README.md": "hello\n",
        },
    )
    repo.commit(
        "Change the orders service", "2026-02-01T09:00:00Z", {"services/orders/app.py": "v2\n"}
    )
    repo.commit(
        "Review the payments model",
        "2026-02-03T09:00:00Z",
        {"models/payments.yaml": model_text("payments", ["services/payments/*.py"]) + "# ok\n"},
    )
    repo.commit("Docs only", "2026-02-10T09:00:00Z", {"README.md": "more\n"})
    repo.commit(
        "Change orders api and payments docs",
        "2026-03-01T12:00:00Z",
        {"services/orders/api/routes.py": "r\n", "services/payments/docs/x.md": "d\n"},
    )
    return repo


def verdicts(root: Path, **options) -> dict:  # type: ignore[no-untyped-def]
    history = read_history(root)
    result = load_models([root / "models"])
    assert result.ok, result.problems
    return {m.model.id: staleness(m, history, **options) for m in result.models}


def test_stale_model_lists_the_commits_since_review(repo: GitRepo) -> None:
    v = verdicts(repo.root)
    orders = v["orders"]
    assert orders.state is State.STALE
    assert orders.review_time == dt.datetime(2026, 1, 5, 10, tzinfo=dt.timezone.utc)
    assert [(c.commit.subject, c.files) for c in orders.changes] == [
        ("Change orders api and payments docs", ("services/orders/api/routes.py",)),
        ("Change the orders service", ("services/orders/app.py",)),
    ]
    assert orders.changes[0].commit.author == "Test Author"
    assert orders.since == dt.datetime(2026, 2, 1, 9, tzinfo=dt.timezone.utc)


def test_model_reviewed_after_the_last_architecture_change_is_fresh(repo: GitRepo) -> None:
    payments = verdicts(repo.root)["payments"]
    # services/payments/docs/x.md is not matched by services/payments/*.py.
    assert payments.state is State.FRESH
    assert payments.review_commit is not None
    assert payments.review_commit.subject == "Review the payments model"


def test_review_marker_date_or_commit_clears_staleness(repo: GitRepo) -> None:
    text = model_text("orders", ["services/orders/**"], review="{date: 2026-03-01}")
    repo.commit("Mark orders reviewed", "2026-03-02T08:00:00Z", {"models/orders.yaml": text})
    assert verdicts(repo.root)["orders"].state is State.FRESH

    # A marker naming a commit counts from that commit's date.
    repo.commit("Touch orders again", "2026-03-05T08:00:00Z", {"services/orders/app.py": "v3\n"})
    assert verdicts(repo.root)["orders"].state is State.STALE
    head = repo.git("rev-parse", "HEAD")
    text = model_text("orders", ["services/orders/**"], review=f"{{commit: {head[:10]}}}")
    # Written but committed before the change date: the marker's commit decides.
    repo.commit("Marker", "2026-03-04T08:00:00Z", {"models/orders.yaml": text})
    v = verdicts(repo.root)["orders"]
    assert v.state is State.FRESH
    assert v.review_commit is not None and v.review_commit.sha == head


def test_renamed_model_keeps_its_review_point(repo: GitRepo) -> None:
    repo.git("mv", "models/payments.yaml", "models/payments-v2.yaml")
    repo.commit("Rename the payments model", "2026-03-10T08:00:00Z")
    repo.commit("Payments change", "2026-03-11T08:00:00Z", {"services/payments/app.py": "v2\n"})
    payments = verdicts(repo.root)["payments"]
    # The rename did not change the text: the review point is still 2026-02-03.
    assert payments.review_time == dt.datetime(2026, 2, 3, 9, tzinfo=dt.timezone.utc)
    assert payments.state is State.STALE
    assert [c.commit.subject for c in payments.changes] == ["Payments change"]


def test_uncommitted_model_changes_count_as_being_reviewed(repo: GitRepo) -> None:
    (repo.root / "models" / "orders.yaml").write_text(
        model_text("orders", ["services/orders/**"]) + "# edited\n"
    )
    orders = verdicts(repo.root)["orders"]
    assert orders.state is State.FRESH
    assert "uncommitted" in orders.reason


def test_maximum_age_and_since(repo: GitRepo) -> None:
    now = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    payments = verdicts(repo.root, max_age_days=90, now=now)["payments"]
    assert payments.state is State.STALE and payments.too_old
    assert "more than 90 days" in payments.reason
    since = dt.datetime(2026, 2, 15, tzinfo=dt.timezone.utc)
    orders = verdicts(repo.root, since=since)["orders"]
    assert [c.commit.subject for c in orders.changes] == ["Change orders api and payments docs"]


def test_shallow_clone_is_unknown_with_a_fix(repo: GitRepo, tmp_path: Path) -> None:
    clone = repo.clone(tmp_path / "shallow", "--depth", "1")
    history = read_history(clone / "models")
    assert isinstance(history, Unavailable)
    assert "fetch-depth: 0" in history.reason
    assert {v.state for v in verdicts(clone).values()} == {State.UNKNOWN}


def test_full_clone_from_a_subfolder_works(repo: GitRepo, tmp_path: Path) -> None:
    clone = repo.clone(tmp_path / "full")
    history = read_history(clone / "models")
    assert isinstance(history, History)
    assert history.root == clone.resolve()
    assert verdicts(clone)["orders"].state is State.STALE


def test_no_repository_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "x.yaml").write_text(model_text("x", ["src/**"]))
    history = read_history(tmp_path / "models")
    assert isinstance(history, Unavailable)
    assert "not inside a git repository" in history.reason
    assert verdicts(tmp_path)["x"].state is State.UNKNOWN


@pytest.mark.parametrize(
    "path, pattern, hit",
    [
        ("services/orders/app.py", "services/orders/**", True),
        ("services/orders/a/b/c.py", "services/orders/**", True),
        ("services/orders", "services/orders", True),
        ("services/orders/app.py", "services/orders", True),
        ("services/ordersx/app.py", "services/orders", False),
        ("services/payments/app.py", "services/payments/*.py", True),
        ("services/payments/docs/x.md", "services/payments/*.py", False),
        ("infra/gateway/routes.yaml", "infra/**/routes.yaml", True),
        ("infra/routes.yaml", "infra/**/routes.yaml", True),
        ("a/b.txt", "a/?.txt", True),
    ],
)
def test_globs(path: str, pattern: str, hit: bool) -> None:
    assert matches_any(path, [pattern]) is hit


def _single_model_repo(tmp_path: Path, watch: list[str], name: str = "m.yaml") -> GitRepo:
    repo = GitRepo(tmp_path / "r")
    repo.commit("Model", "2026-01-01T10:00:00Z", {f"models/{name}": model_text("m", watch)})
    return repo


def test_a_branch_merged_after_the_review_makes_the_model_stale(tmp_path: Path) -> None:
    repo = _single_model_repo(tmp_path, ["src/**"])
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("Branch work", "2026-01-10T10:00:00Z", {"src/a.py": "a\n"})
    repo.git("checkout", "-q", "main")
    repo.commit(
        "Review on main",
        "2026-01-20T10:00:00Z",
        {"models/m.yaml": model_text("m", ["src/**"]) + "# reviewed\n"},
    )
    repo.git(
        "merge", "-q", "--no-ff", "-m", "Merge feature", "feature", date="2026-02-01T10:00:00Z"
    )
    verdict = verdicts(repo.root)["m"]
    assert verdict.state is State.STALE
    assert [c.commit.subject for c in verdict.changes] == ["Merge feature"]
    assert verdict.changes[0].files == ("src/a.py",)


def test_non_ascii_and_dot_paths_are_watched(tmp_path: Path) -> None:
    repo = _single_model_repo(
        tmp_path, ["src/café/**", ".github/workflows/**", ".env"], "zürich.yaml"
    )
    repo.commit(
        "Odd paths",
        "2026-02-01T10:00:00Z",
        {"src/café/a.py": "a\n", ".github/workflows/ci.yml": "x\n", ".env": "X=1\n"},
    )
    verdict = verdicts(repo.root)["m"]
    assert verdict.state is State.STALE
    assert verdict.changes[0].files == (".env", ".github/workflows/ci.yml", "src/café/a.py")


def test_commit_subjects_with_control_characters_are_read(tmp_path: Path) -> None:
    repo = _single_model_repo(tmp_path, ["src/**"])
    repo.commit("odd \x1e\x1f subject\ttab", "2026-02-01T10:00:00Z", {"src/x.py": "x\n"})
    verdict = verdicts(repo.root)["m"]
    assert verdict.state is State.STALE
    assert verdict.changes[0].commit.subject == "odd \x1e\x1f subject\ttab"


def test_future_review_dates_and_unknown_review_commits_are_ignored(tmp_path: Path) -> None:
    repo = _single_model_repo(tmp_path, ["src/**"])
    text = model_text("m", ["src/**"], review="{date: 2099-12-31, commit: abcdef1}")
    repo.commit("Marker", "2026-01-02T10:00:00Z", {"models/m.yaml": text})
    repo.commit("Change", "2026-02-01T10:00:00Z", {"src/x.py": "x\n"})
    verdict = verdicts(repo.root)["m"]
    assert verdict.state is State.STALE
    assert "the review date 2099-12-31 is in the future and is ignored" in verdict.reason
    assert "the review commit abcdef1 is not in the history and is ignored" in verdict.reason


def test_history_is_reused_while_head_does_not_move(repo: GitRepo) -> None:
    first = read_history(repo.root)
    assert isinstance(first, History)
    second = read_history(repo.root, first)
    assert isinstance(second, History) and second.commits is first.commits
    repo.commit("Another", "2026-04-01T10:00:00Z", {"README.md": "again\n"})
    third = read_history(repo.root, first)
    assert isinstance(third, History) and third.commits is not first.commits
    assert third.commits[0].subject == "Another"


def test_a_change_in_the_same_second_as_the_review_counts(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.commit("Model", "2026-01-01T10:00:00Z", {"models/m.yaml": model_text("m", ["src/**"])})
    # Committed right after the model, within the same second (or with a slow clock).
    repo.commit("Change", "2026-01-01T10:00:00Z", {"src/a.py": "a\n"})
    verdict = verdicts(repo.root)["m"]
    assert verdict.state is State.STALE
    assert [c.commit.subject for c in verdict.changes] == ["Change"]


def test_last_review_comes_from_history_and_else_from_the_marker(repo: GitRepo) -> None:
    text = model_text("orders", ["services/orders/**"], review="{date: 2026-01-20, by: [ana]}")
    repo.commit("Mark orders reviewed", "2026-03-02T08:00:00Z", {"models/orders.yaml": text})
    result = load_models([repo.root / "models"])
    loaded = {m.model.id: m for m in result.models}
    found = verdicts(repo.root)
    # With history: the later of the marker's day and the last commit of the file.
    orders = last_review(loaded["orders"].model, found["orders"])
    assert (orders.day, orders.by) == (dt.date(2026, 3, 2), ("ana",))
    assert orders.commit is not None and orders.commit.subject == "Mark orders reviewed"
    # Without history (staleness off or unreadable): the marker's own day, no commit.
    assert last_review(loaded["orders"].model, None) == LastReview(
        dt.date(2026, 1, 20), None, ("ana",)
    )
    assert last_review(loaded["payments"].model, None) == LastReview(None, None, ())
