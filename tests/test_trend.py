"""Risk over time: real git repositories with fixed dates, read and analysed per version."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tm_docs.analysis.risk import RiskBands
from tm_docs.analysis.settings import Settings
from tm_docs.analysis.trend import DELETED, ModelTrend, RiskPoint, Trends, risk_point
from tm_docs.load.models import load_models
from tm_docs.load.signed import SignedCache
from tm_docs.load.trend import open_trend_cache
from tm_docs.pipeline import Pipeline, load_checked, report_of
from tm_docs.render import trend_report

from .gitrepo import GitRepo
from .sites import build, content, make_site, page

ORDERS_V1 = """\
format_version: 1
id: orders
title: Orders
owner: team-a
components:
  - {id: api, title: API, kind: process}
threats:
  - id: T1
    title: Forged token
    categories: [spoofing]
    targets: [api]
    impact: 4
    likelihood: 4
    mitigations: [M1]
mitigations:
  - {id: M1, title: Check the audience, owner: team-a, status: planned}
"""
# M1 done: T1's residual risk drops to 4 x 3 = 12 (high); T2 is new, 3 x 4 = 12 (high).
ORDERS_V2 = """\
format_version: 1
id: orders
title: Orders
owner: team-a
components:
  - {id: api, title: API, kind: process}
threats:
  - id: T1
    title: Forged token
    categories: [spoofing]
    targets: [api]
    impact: 4
    likelihood: 4
    mitigations: [M1]
  - id: T2
    title: Queue flood
    categories: [denial_of_service]
    targets: [api]
    impact: 3
    likelihood: 4
    mitigations: [M2]
mitigations:
  - {id: M1, title: Check the audience, owner: team-a, status: done}
  - {id: M2, title: Bound the queue, owner: team-a, status: proposed}
"""
BROKEN = ORDERS_V2.replace("impact: 3", "impact: [3")  # not YAML any more
# T2 mitigated, and a review marker.
ORDERS_V4 = (
    ORDERS_V2.replace("    impact: 3\n", "    impact: 3\n    status: mitigated\n")
    + "review: {date: 2026-03-01, by: [Ann]}\n"
)

OTHER = """\
format_version: 1
id: other
title: Other
owner: team-b
components:
  - {id: store, title: Store, kind: data_store}
threats:
  - {id: T1, title: Tampered rows, categories: [tampering], targets: [store],
     impact: 1, likelihood: 2}
"""


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("Orders model", "2026-01-05T10:00:00Z", {"models/orders.yaml": ORDERS_V1})
    repo.commit("Other model", "2026-01-20T10:00:00Z", {"models/other.yaml": OTHER})
    repo.commit("M1 done, T2 found", "2026-02-01T10:00:00Z", {"models/orders.yaml": ORDERS_V2})
    repo.commit("Oops", "2026-02-10T10:00:00Z", {"models/orders.yaml": BROKEN})
    repo.commit("Unrelated", "2026-02-15T10:00:00Z", {"README.md": "x\n"})
    repo.commit("Reviewed", "2026-03-01T12:00:00Z", {"models/orders.yaml": ORDERS_V4})
    return repo


def _settings(root: Path, **options: object) -> Settings:
    return Settings(root=root, models_dir=root / "models", **options)  # type: ignore[arg-type]


def _trends(pipeline: Pipeline, **options: object) -> Trends:
    settings = pipeline.settings
    report = report_of(settings, load_checked(settings))
    verdicts, _ = pipeline.staleness([m.loaded for m in report.models], always=True)
    trends, _, warnings = pipeline.trends(report, verdicts, **options)  # type: ignore[arg-type]
    assert not warnings
    return trends


def _counts(trend: ModelTrend) -> list[tuple[str, dict[str, int] | None, str | None]]:
    return [
        (
            p.time.date().isoformat(),
            dict(p.risk.by_residual_band) if p.risk else None,
            p.gap,
        )
        for p in trend.points
    ]


def test_each_commit_that_changed_a_model_is_a_point_with_its_open_risk(repo: GitRepo) -> None:
    trends = _trends(Pipeline(_settings(repo.root)))
    orders = trends.models["orders"]
    rows = _counts(orders)
    assert [r[0] for r in rows] == ["2026-01-05", "2026-02-01", "2026-02-10", "2026-03-01"]
    assert rows[0][1] == {"low": 0, "medium": 0, "high": 0, "critical": 1}
    assert rows[1][1] == {"low": 0, "medium": 0, "high": 2, "critical": 0}
    assert rows[3][1] == {"low": 0, "medium": 0, "high": 1, "critical": 0}
    first, second, _, last = (p.risk for p in orders.points)
    assert first is not None and second is not None and last is not None
    assert (first.inherent_sum, first.inherent_max, first.residual_sum) == (16, 16, 16)
    assert dict(second.by_band) == {"low": 0, "medium": 0, "high": 1, "critical": 1}
    assert (second.inherent_sum, second.inherent_max) == (28, 16)
    assert (second.residual_sum, second.residual_max) == (24, 12)
    assert (last.open_threats, last.residual_sum) == (1, 12)
    # STRIDE: a process has six applicable categories; one is covered, then two.
    assert (first.coverage, second.coverage, first.not_analysed) == (16, 33, 5)
    assert last.review_date == dt.date(2026, 3, 1)
    assert orders.change() == 0


def test_a_version_that_did_not_load_is_a_gap_not_an_error(repo: GitRepo) -> None:
    orders = _trends(Pipeline(_settings(repo.root))).models["orders"]
    gap = orders.points[2]
    assert gap.risk is None and gap.commit.subject == "Oops"
    assert gap.gap is not None and gap.gap.startswith("the model file did not load:")
    assert len(orders.known) == 3


def test_the_last_point_agrees_with_the_analysis_of_the_working_tree(repo: GitRepo) -> None:
    settings = _settings(repo.root)
    report = report_of(settings, load_checked(settings))
    orders = _trends(Pipeline(settings)).models["orders"]
    now = report.models[[m.model.id for m in report.models].index("orders")]
    last = orders.points[-1].risk
    assert last is not None
    assert last.untriaged == len(now.untriaged)
    assert last.coverage == now.coverage.percent


def test_reviews_mark_the_time_line(repo: GitRepo) -> None:
    orders = _trends(Pipeline(_settings(repo.root))).models["orders"]
    assert [(r.time.isoformat(), r.current) for r in orders.reviews] == [
        ("2026-03-01T23:59:59+00:00", True)
    ]


def test_the_site_adds_up_the_models_each_with_its_last_loaded_version(repo: GitRepo) -> None:
    site = _trends(Pipeline(_settings(repo.root))).site
    assert [p.commit.subject for p in site] == [
        "Orders model",
        "Other model",
        "M1 done, T2 found",
        "Oops",
        "Reviewed",
    ]
    bands = [
        (p.by_residual_band["critical"], p.by_residual_band["high"], p.by_residual_band["low"])
        for p in site
    ]
    # The broken version keeps orders at its last loaded state (2 high).
    assert bands == [(1, 0, 0), (1, 0, 1), (0, 2, 1), (0, 2, 1), (0, 1, 1)]
    assert [p.models for p in site] == [1, 2, 2, 2, 2]
    assert site[1].changed == ("other",)


def test_since_keeps_the_commits_from_that_day_on(repo: GitRepo) -> None:
    since = dt.datetime(2026, 2, 1, tzinfo=dt.timezone.utc)
    trends = _trends(Pipeline(_settings(repo.root)), since=since)
    assert [r[0] for r in _counts(trends.models["orders"])] == [
        "2026-02-01",
        "2026-02-10",
        "2026-03-01",
    ]
    assert trends.models["other"].points == ()
    assert trends.site[0].by_residual_band["low"] == 1  # other still counts
    # The table says why a model has no row: nothing changed it since that day.
    text = trend_report.as_text(list(trends.models.values()), RiskBands(), since.date())
    assert "    no commit changed the model file since 2026-02-01" in text


def test_renames_are_followed_and_a_deleted_file_is_a_gap(tmp_path: Path) -> None:
    repo = GitRepo(tmp_path / "r")
    repo.commit("Add", "2026-01-01T00:00:00Z", {"models/a.yaml": ORDERS_V1})
    repo.git("mv", "models/a.yaml", "models/b.yaml")
    repo.commit("Rename only", "2026-01-02T00:00:00Z")
    repo.commit("Change", "2026-01-03T00:00:00Z", {"models/b.yaml": ORDERS_V2})
    repo.git("rm", "-q", "models/b.yaml")
    repo.commit("Delete", "2026-01-04T00:00:00Z")
    repo.commit("Back", "2026-01-05T00:00:00Z", {"models/b.yaml": ORDERS_V4})
    orders = _trends(Pipeline(_settings(repo.root))).models["orders"]
    assert [(p.commit.subject, p.path, p.gap) for p in orders.points] == [
        ("Add", "models/a.yaml", None),
        ("Change", "models/b.yaml", None),
        ("Delete", "models/b.yaml", DELETED),
        ("Back", "models/b.yaml", None),
    ]


def test_each_version_is_analysed_once_in_memory_and_on_disk(repo: GitRepo) -> None:
    cache = repo.root / ".tm-docs-cache"
    pipeline = Pipeline(_settings(repo.root, cache_dir=cache))
    first = _trends(pipeline)
    stats = pipeline._versions.stats
    # Two of the five versions are the files just loaded: the report's analysis serves.
    assert (stats.analysed, stats.from_build, stats.from_memory, stats.from_disk) == (3, 2, 0, 0)
    assert _trends(pipeline) == first
    assert (pipeline._versions.stats.analysed, pipeline._versions.stats.from_memory) == (0, 5)

    fresh = Pipeline(_settings(repo.root, cache_dir=cache))
    assert _trends(fresh) == first
    assert (fresh._versions.stats.analysed, fresh._versions.stats.from_disk) == (0, 5)

    # The cache folder is untrusted: an entry not signed with the user's key is not used,
    # however plausible its point (it would be charted as it is), and a signed entry the
    # reader does not accept is computed again too.
    entries = sorted((cache / "trend").glob("*.json"))
    assert len(entries) == 5
    signed = open_trend_cache(repo.root, ".tm-docs-cache")
    assert isinstance(signed, SignedCache)
    for entry in entries:
        data = signed.get(entry.stem)
        assert isinstance(data, dict)
        if "value" in data:
            data["value"]["coverage"] = 100
            data["value"]["by_residual_band"] = dict.fromkeys(data["value"]["by_residual_band"], 0)
        else:
            data = {"gap": "planted"}
        entry.write_text(json.dumps(data))
    planted = Pipeline(_settings(repo.root, cache_dir=cache))
    assert _trends(planted) == first
    stats = planted._versions.stats
    assert (stats.from_disk, stats.analysed, stats.from_build) == (0, 3, 2)

    for entry in sorted((cache / "trend").glob("*.json")):
        data = signed.get(entry.stem)
        assert isinstance(data, dict)
        if "value" in data:
            data["value"]["coverage"] = 999
        else:
            data = {"gap": "x" * 5000}
        signed.put(entry.stem, data)
    odd = Pipeline(_settings(repo.root, cache_dir=cache))
    assert _trends(odd) == first
    stats = odd._versions.stats
    assert (stats.rejected, stats.analysed, stats.from_build) == (5, 3, 2)


def test_other_rules_or_bands_make_every_version_new(repo: GitRepo) -> None:
    from tm_docs.analysis.risk import RiskBands

    pipeline = Pipeline(_settings(repo.root))
    _trends(pipeline)
    pipeline.configure(_settings(repo.root, bands=RiskBands(medium=4, high=8, critical=20)))
    orders = _trends(pipeline).models["orders"]
    assert (pipeline._versions.stats.analysed, pipeline._versions.stats.from_build) == (3, 2)
    first = orders.points[0].risk
    assert first is not None and first.by_residual_band["high"] == 1  # 16 is high now


def test_a_shallow_clone_is_unknown_with_the_staleness_fix(repo: GitRepo, tmp_path: Path) -> None:
    clone = repo.clone(tmp_path / "shallow", "--depth", "1")
    settings = _settings(clone)
    report = report_of(settings, load_checked(settings))
    pipeline = Pipeline(settings)
    verdicts, stale_warnings = pipeline.staleness([m.loaded for m in report.models])
    trends, _, warnings = pipeline.trends(report, verdicts)
    assert trends.unknown is not None and trends.site == ()
    assert "shallow clone" in trends.unknown and "fetch-depth: 0" in trends.unknown
    assert "the risk trend is unknown" in trends.unknown
    assert warnings == [trends.unknown]
    # The same cause and fix as the staleness warning.
    assert trends.unknown.split(", so ")[0] in stale_warnings[0]
    assert trends.unknown.split("; ", 1)[1] in stale_warnings[0]
    assert all(t.unknown == trends.unknown for t in trends.models.values())


def tm_docs(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tm_docs.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )


HOSTILE_TITLE = '=HYPERLINK("x") \u202e "quoted", ##[error]'
HOSTILE_SUBJECT = "=cmd|' /C calc'!A0 \x1b[31mred ##vso[task.setvariable]"


@pytest.fixture
def hostile(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "h")
    text = ORDERS_V1.replace("title: Orders", f"title: {json.dumps(HOSTILE_TITLE)}")
    repo.commit(HOSTILE_SUBJECT, "2026-01-05T10:00:00Z", {"models/orders.yaml": text})
    return repo


def test_cli_csv_defuses_formulas_and_keeps_the_text(hostile: GitRepo) -> None:
    result = tm_docs(hostile.root, "trend", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1
    assert rows[0]["model"] == "orders" and rows[0]["open"] == "1"
    assert rows[0]["residual_critical"] == "1" and rows[0]["inherent_sum"] == "16"
    # Text as the terminal shows it (a CSV lands in terminals and CI logs too).
    assert rows[0]["subject"] == "'=cmd|' /C calc'!A0 \\x1b[31mred \\x23#vso[task.setvariable]"
    assert "\x1b" not in result.stdout


def test_cli_json_escapes_controls_and_keeps_the_text(hostile: GitRepo) -> None:
    result = tm_docs(hostile.root, "trend", "orders", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    assert "\\u001b" in result.stdout and "\\u202e" in result.stdout
    document = json.loads(result.stdout)
    (model,) = document["models"]
    assert model["title"] == HOSTILE_TITLE
    point = model["points"][0]
    assert point["subject"] == HOSTILE_SUBJECT
    assert point["risk"]["by_residual_band"]["critical"] == 1
    assert document["site"][0]["open"] == 1


def test_cli_table_shows_no_control_characters_or_ci_commands(hostile: GitRepo) -> None:
    result = tm_docs(hostile.root, "trend", "models/orders.yaml")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    assert "##[" not in result.stdout and "##vso[" not in result.stdout
    assert "\\x1b[31mred" in result.stdout and "\\u202e" in result.stdout
    assert "=cmd|' /C calc'!A0" in result.stdout


def test_cli_names_unknown_models_and_degrades_without_history(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "orders.yaml").write_text(ORDERS_V1)
    result = tm_docs(tmp_path, "trend", "nope")
    assert result.returncode == 2
    assert "no model 'nope'" in result.stderr and "orders" in result.stderr
    result = tm_docs(tmp_path, "trend", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "not inside a git repository, so the risk trend is unknown" in result.stderr
    (model,) = json.loads(result.stdout)["models"]
    assert "not inside a git repository, so the risk trend is unknown" in model["unknown"]
    assert model["points"] == []


def test_the_built_site_shows_the_charts_and_their_data(repo: GitRepo) -> None:
    snapshot = repo.root.parent / "snapshot"
    shutil.copytree(repo.root / "models", snapshot)
    config = make_site(repo.root, snapshot, git=False)
    repo.commit("The site", "2026-03-02T00:00:00Z")
    proc = build(config, "--strict")
    assert proc.returncode == 0, proc.stderr
    site = repo.root / "site"
    model_page = content(page(site, "threat-models/orders/index.html"))
    chart = model_page.select_one("figure.tm-trend svg.tm-chart")
    assert chart is not None and chart["role"] == "img"
    assert chart.title.get_text() == "Open threats of Orders by residual band, per commit"
    assert "open threats went from 1 to 1" in chart.desc.get_text()
    assert "1 version of the file left a gap" in chart.desc.get_text()
    assert len(chart.select("rect.tm-chart__gap")) == 1
    assert {p["class"][1] for p in chart.select("path.tm-chart__band")} == {
        "tm-fill--critical",
        "tm-fill--high",
    }
    assert chart.select_one(".tm-chart__review--current") is not None
    rows = model_page.select("details.tm-trend__data tbody tr")
    assert [r.find_all("td")[0].get_text() for r in rows] == [
        "2026-03-01",
        "2026-02-10",
        "2026-02-01",
        "2026-01-05",
    ]
    assert "gap: the model file did not load" in rows[1].get_text()
    # The command line says the same as the page.
    cli = json.loads(tm_docs(repo.root, "trend", "orders", "--format", "json").stdout)
    newest = cli["models"][0]["points"][-1]
    cells = [td.get_text() for td in rows[0].find_all("td")]
    assert cells[1] == newest["commit"][:10]
    assert cells[2:6] == [
        str(newest["risk"][f"residual_{b}"]) for b in ("critical", "high", "medium", "low")
    ]
    assert cells[6] == f"{newest['risk']['residual_sum']} · {newest['risk']['residual_max']}"
    overview = content(page(site, "threat-models/index.html"))
    site_chart = overview.select_one("figure.tm-trend svg.tm-chart")
    assert site_chart is not None
    assert "open threats of all models went from 1 to 2" in site_chart.desc.get_text()
    assert len(overview.select("details.tm-trend__data tbody tr")) == 5


def test_a_site_without_history_says_the_trend_is_unknown_in_one_warning(tmp_path: Path) -> None:
    models = tmp_path / "in"
    models.mkdir()
    (models / "orders.yaml").write_text(ORDERS_V1)
    config = make_site(tmp_path / "site", models, plugin={"diagrams": False}, git=False)
    proc = build(config)
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "not inside a git repository" in warnings[0]
    built = tmp_path / "site" / "site"
    for path in ("threat-models/orders/index.html", "threat-models/index.html"):
        unknown = content(page(built, path)).select_one(".tm-trend__unknown")
        assert unknown is not None
        assert "not inside a git repository, so the risk trend is unknown" in unknown.get_text()
        assert content(page(built, path)).select_one("figure.tm-trend svg") is None


def test_a_rebuild_analyses_only_new_versions(repo: GitRepo) -> None:
    pipeline = Pipeline(_settings(repo.root, diagrams=False))
    first = pipeline.build()
    trend_notes = [n for n in first.notes if n.startswith("risk trend:")]
    assert trend_notes == [
        "risk trend: 3 model versions analysed, 2 from the build's own analysis, 0 from the cache"
    ]
    assert (
        "risk trend: 0 model versions analysed, 0 from the build's own analysis, 5 from the cache"
        in pipeline.build().notes
    )
    repo.commit("More", "2026-03-05T00:00:00Z", {"models/other.yaml": OTHER + "# seen\n"})
    again = pipeline.build()
    assert (
        "risk trend: 0 model versions analysed, 1 from the build's own analysis, 5 from the cache"
        in again.notes
    )
    assert again.trends is not None and len(again.trends.site) == 6


EXAMPLES = Path(__file__).resolve().parents[1] / "models"


def test_every_point_equals_the_full_analysis_of_that_version(tmp_path: Path) -> None:
    """The trend reads versions its own way (no positions, one result for versions with
    the same data); each point must still equal what the site's loader and analysis
    make of that version's file, and each gap must name the problem `check` names."""
    checkout = (EXAMPLES / "checkout.yaml").read_text(encoding="utf-8")
    identity = (EXAMPLES / "identity.yaml").read_text(encoding="utf-8")
    rated = "    impact: 5\n    likelihood: 4\n"
    assert rated in checkout
    reordered = ORDERS_V2.replace("id: orders\ntitle: Orders\n", "title: Orders\nid: orders\n")
    dangling = ORDERS_V1.replace("targets: [api]", "targets: [apu]")
    repo = GitRepo(tmp_path / "repo")
    steps = [
        {"models/shop.yaml": checkout, "models/orders.yaml": ORDERS_V1},
        {"models/shop.yaml": checkout + "# reviewed with the team\n"},  # same data
        {
            "models/shop.yaml": checkout.replace(rated, rated.replace("4", "2"), 1),
            "models/orders.yaml": dangling,
        },
        {"models/shop.yaml": checkout.replace("\n", "\n\n"), "models/orders.yaml": ORDERS_V2},
        {"models/shop.yaml": checkout.replace("  ", "\t", 1), "models/orders.yaml": BROKEN},
        {"models/orders.yaml": reordered},
        {"models/shop.yaml": identity, "models/orders.yaml": ORDERS_V4},
    ]
    for day, files in enumerate(steps, 1):
        repo.commit(f"Step {day}", f"2026-01-{day:02d}T10:00:00Z", files)
    trends = _trends(Pipeline(_settings(repo.root)))
    points = [p for t in trends.models.values() for p in t.points]
    assert len(points) == 12 and sum(p.risk is None for p in points) == 3
    for number, point in enumerate(points):
        text = subprocess.run(
            ["git", "show", f"{point.commit.sha}:{point.path}"],
            cwd=repo.root,
            capture_output=True,
            check=True,
        ).stdout
        folder = tmp_path / "versions" / str(number)
        folder.mkdir(parents=True)
        (folder / "model.yaml").write_bytes(text)
        settings = Settings(root=folder, models_dir=folder)
        loaded = load_models([folder], root=folder)
        if point.risk is None:
            assert not loaded.models
            assert point.gap == f"the model file did not load: {loaded.errors[0].message}"
            continue
        report = report_of(settings, load_checked(settings))
        (model,) = report.models
        assert point.risk == _site_point(folder)
        assert point.risk == risk_point(model.loaded, settings, report.rules)
        assert point.risk.by_band == report.portfolio.summary(model.loaded).by_band
        assert point.risk.coverage == model.coverage.percent
        assert point.risk.untriaged == len(model.untriaged)
    shop = [p.risk for p in trends.models["identity"].points]
    # The comment changed nothing; a threat rated lower lowers the sum by 5 x 2.
    assert shop[0] == shop[1] and shop[0] is not None and shop[2] is not None
    assert shop[2].inherent_sum == shop[0].inherent_sum - 10


def _site_point(folder: Path) -> RiskPoint:
    """The point of the one model file in `folder`, worked out from the site's own report."""
    settings = Settings(root=folder, models_dir=folder)
    report = report_of(settings, load_checked(settings))
    (model,) = report.models
    open_threats = report.portfolio.open_threats
    residual = {b.name: 0 for b in settings.bands.bands}
    for rated in open_threats:
        if rated.residual_band is not None:
            residual[rated.residual_band.name] += 1
    marker = model.model.review
    return RiskPoint(
        by_band=report.portfolio.summary(model.loaded).by_band,
        by_residual_band=residual,
        inherent_sum=sum(r.threat.risk for r in open_threats),
        inherent_max=max((r.threat.risk for r in open_threats), default=0),
        residual_sum=sum(r.residual for r in open_threats),
        residual_max=max((r.residual for r in open_threats), default=0),
        coverage=model.coverage.percent,
        not_analysed=len(model.coverage.gaps),
        untriaged=len(model.untriaged),
        review_date=marker.date if marker else None,
        review_commit=marker.commit if marker else None,
    )


def test_a_version_reuses_only_the_parts_whose_data_it_left_unchanged(tmp_path: Path) -> None:
    """Each part of a point is remembered by the model keys it reads; a version that
    changes one key must get new values for every part that reads it.  Each version here
    is the first one with one key changed, so a part that left that key out of what it is
    remembered by would repeat the first version's value."""
    base = (EXAMPLES / "checkout.yaml").read_text(encoding="utf-8")
    assert base.count("not_applicable:\n") == 1 and "dismissed:" not in base
    spare = "  - {id: T-SPARE, title: Spare, impact: 1, likelihood: 1, categories: "
    variants = {
        "title": base.replace("title: Checkout\n", "title: Checkout (renamed)\n", 1),
        "boundaries": base.replace("trust: dmz", "trust: untrusted", 1),
        "assets": base.replace("classification: confidential", "classification: restricted", 1),
        "mitigations": base.replace("status: planned", "status: done", 1),
        "dismissed": base
        + "dismissed:\n  - {suggestion: sql-injection@order-service, reason: Bound queries.}\n",
        "not_applicable": base.replace(
            "not_applicable:\n",
            "not_applicable:\n  - {element: customer-client, categories: [spoofing],\n"
            "     reason: The gateway checks every token.}\n",
        ),
        "threats": base.replace(
            "    impact: 5\n    likelihood: 4\n", "    impact: 2\n    likelihood: 4\n", 1
        ),
        "components": base.replace(
            "components:\n",
            "components:\n  - {id: spare, title: Spare, kind: process, boundary: internet,\n"
            "     technology: nginx web server}\n",
            1,
        ),
        "threats, a cell": base.replace(
            "threats:\n", f"threats:\n{spare}[spoofing], targets: [customer-client]}}\n", 1
        ),
        "threats, a suggestion": base.replace(
            "threats:\n",
            f"threats:\n{spare}[tampering], targets: [order-service],\n"
            "     from_suggestion: sql-injection@order-service}\n",
            1,
        ),
        "flows": base.replace(
            "flows:\n  - id: ",
            "flows:\n  - {id: spare-flow, source: customer-client, destination: api-gateway}\n"
            "  - id: ",
            1,
        ),
    }
    repo = GitRepo(tmp_path / "repo")
    repo.commit("Base", "2026-01-01T10:00:00Z", {"models/shop.yaml": base})
    for day, (key, text) in enumerate(variants.items(), 2):
        assert text != base, key
        repo.commit(key, f"2026-01-{day:02d}T10:00:00Z", {"models/shop.yaml": text})
    trends = _trends(Pipeline(_settings(repo.root)))
    points = [p.risk for p in trends.models["checkout"].points]
    expected = []
    for number, text in enumerate([base, *variants.values()]):
        folder = tmp_path / "versions" / str(number)
        folder.mkdir(parents=True)
        (folder / "model.yaml").write_text(text, encoding="utf-8")
        expected.append(_site_point(folder))
    assert points == expected
    # Each change moves what its key feeds, so a part reused wrongly would show.
    first, by_key = expected[0], dict(zip(variants, expected[1:], strict=True))
    assert by_key["title"] == first
    assert by_key["boundaries"].untriaged != first.untriaged
    assert by_key["assets"].untriaged != first.untriaged
    assert by_key["dismissed"].untriaged == first.untriaged - 1
    assert by_key["mitigations"].residual_sum < first.residual_sum
    assert by_key["not_applicable"].not_analysed == first.not_analysed - 1
    assert by_key["threats"].inherent_sum < first.inherent_sum
    assert by_key["components"].not_analysed > first.not_analysed
    assert by_key["components"].untriaged > first.untriaged
    assert by_key["threats, a cell"].not_analysed == first.not_analysed - 1
    assert by_key["threats, a suggestion"].untriaged == first.untriaged - 1
    assert by_key["flows"].not_analysed > first.not_analysed


def test_a_build_asks_git_for_history_once_also_when_it_cannot_be_read(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Staleness and the trend share one read of history: a shallow clone is found out
    once per build, not once for each of them."""
    real = shutil.which("git")
    assert real is not None
    calls = tmp_path / "git-calls.txt"
    wrapper = tmp_path / "bin" / "git"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    clone = repo.clone(tmp_path / "shallow", "--depth", "1")
    monkeypatch.setenv("PATH", f"{wrapper.parent}{os.pathsep}{os.environ['PATH']}")
    pipeline = Pipeline(_settings(clone, diagrams=False))
    built = pipeline.build()
    assert built.trends is not None and built.trends.unknown is not None
    asked = calls.read_text().splitlines()
    assert sum("--is-shallow-repository" in line for line in asked) == 1
    assert [w for w in built.warnings if "shallow clone" in w] == [
        w for w in built.warnings if "stale models cannot be found" in w
    ]

    calls.unlink()
    whole = Pipeline(_settings(repo.root, diagrams=False)).build()
    assert whole.trends is not None and whole.trends.unknown is None
    asked = calls.read_text().splitlines()
    assert sum(line.startswith("-C") and " log " in f" {line} " for line in asked) == 1
    assert sum(" cat-file --batch" in line for line in asked) == 1


def test_a_cold_build_analyses_the_loaded_files_once_and_agrees_with_the_cli(
    tmp_path: Path,
) -> None:
    """A version whose file is the one a cold build has just loaded and analysed takes
    its point from that analysis: the log counts it apart, as not analysed again, and
    every point, those included, is what `tm-docs trend` prints."""
    checkout = (EXAMPLES / "checkout.yaml").read_text(encoding="utf-8")
    rated = "    impact: 5\n    likelihood: 4\n"
    lowered = checkout.replace(rated, rated.replace("4", "2"), 1)
    repo = GitRepo(tmp_path / "repo")
    steps = [
        {"models/shop.yaml": lowered, "models/orders.yaml": ORDERS_V1},
        {"models/orders.yaml": ORDERS_V2},
        {"models/shop.yaml": checkout, "models/orders.yaml": BROKEN},
        {"models/orders.yaml": ORDERS_V4},
        {"models/shop.yaml": checkout + "# seen again\n"},  # the same data as before
    ]
    for day, files in enumerate(steps, 1):
        repo.commit(f"Step {day}", f"2026-01-{day:02d}T10:00:00Z", files)
    settings = _settings(repo.root, diagrams=False, cache_dir=repo.root / ".tm-docs-cache")
    site = Pipeline(settings).build()
    assert site.trends is not None and site.trends.unknown is None
    # Seven versions: the two files on disk are the build's, five are read from git.
    assert (
        "risk trend: 5 model versions analysed, 2 from the build's own analysis, "
        "0 from the cache" in site.notes
    )
    assert "work: 2 of 2 model file(s) loaded, 2 analysed" in str(site.work)
    result = tm_docs(repo.root, "trend", "--format", "json")
    assert result.returncode == 0, result.stderr
    shown = [site.trends.models[m.model.id] for m in site.report.models]
    built = json.loads(trend_report.as_json(site.trends, shown, settings.bands))
    assert json.loads(result.stdout) == built
    # The points taken from the build's analysis are those of the file at HEAD.
    shop = next(m for m in built["models"] if m["id"] == "checkout")["points"]
    assert [p["risk"]["inherent_sum"] - shop[0]["risk"]["inherent_sum"] for p in shop] == [
        0,
        10,
        10,
    ]
