"""Real `mkdocs build` runs of sites that use the plugin."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from tm_docs.load.models import load_models

from .gitrepo import GitRepo
from .sites import REPO, build, content, make_site, page


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("example")
    config = make_site(
        root,
        extra={"repo_url": "https://git.example.com/shop/tm", "edit_uri": "-/edit/main/docs/"},
    )
    proc = build(config, "--strict")
    assert proc.returncode == 0, proc.stderr
    return root / "site"


def _open_threats() -> list[tuple[str, str, int, int]]:
    result = load_models([REPO / "models"])
    return [
        (m.model.id, t.id, t.impact, t.likelihood)
        for m in result.models
        for t in m.model.threats
        if t.status.value == "open"
    ]


def test_every_page_is_generated(example_site: Path) -> None:
    for path in ("", "backlog/", "heatmap/", "stride/", "assets/"):
        assert (example_site / "threat-models" / path / "index.html").is_file()
    for model_id in ("checkout", "identity", "notifications"):
        assert (example_site / "threat-models" / model_id / "index.html").is_file()
    # Nothing was written into the docs folder.
    assert not (example_site.parent / "docs" / "threat-models").exists()


def test_navigation_has_a_threat_models_section(example_site: Path) -> None:
    soup = page(example_site, "index.html")
    nav = soup.select_one("nav.md-nav--primary")
    labels = [a.get_text(" ", strip=True) for a in nav.select("a.md-nav__link")]
    for label in ("Overview", "Mitigation backlog", "Risk heatmap", "STRIDE threats"):
        assert label in labels
    assert "Checkout" in labels
    assert "Threat models" in nav.get_text(" ", strip=True)


def _risk(text: str) -> int:
    """The score of '20 · Critical', or of the residual side of '12 · High → 8 · Medium'."""
    last = text.split("→")[-1].strip().split(" ")[0]
    return int(last) if last.isdigit() else 0


def test_index_lists_models_by_highest_open_residual_risk(example_site: Path) -> None:
    soup = content(page(example_site, "threat-models/index.html"))
    rows = soup.select("table")[0].select("tbody tr")
    by_model = {r.select("td")[0].get_text(strip=True): r for r in rows}
    checkout = by_model["Checkout"]
    assert checkout.select("td")[4].get_text(strip=True) == "team-checkout"
    assert "20 · Critical" in checkout.select("td")[1].get_text(" ", strip=True)
    assert checkout.select_one("td a")["href"] == "checkout/"
    residuals = [_risk(r.select("td")[1].get_text(" ", strip=True)) for r in rows]
    assert residuals == sorted(residuals, reverse=True)
    # Each model has an SVG chart of its open risk by band (no script) and a coverage bar:
    # one coloured part per band with open threats, widths in proportion to the counts.
    chart = checkout.select_one("svg.tm-chart--bands")
    assert (
        chart.title.get_text()
        == "Open threats by residual risk: 1 critical, 1 high, 7 medium, 1 low"
    )
    parts = chart.select("rect[class^=tm-fill--]")
    assert [p["class"][0] for p in parts] == [
        "tm-fill--critical",
        "tm-fill--high",
        "tm-fill--medium",
        "tm-fill--low",
    ]
    assert [float(p["width"]) for p in parts] == [10.0, 10.0, 70.0, 10.0]
    assert [float(p["x"]) for p in parts] == [0.0, 10.0, 20.0, 90.0]
    assert checkout.select_one(".tm-bar__fill")["style"].startswith("width:")
    assert soup.select("script") == []


def test_backlog_is_ordered_by_risk_and_matches_the_exports(example_site: Path) -> None:
    soup = content(page(example_site, "threat-models/backlog/index.html"))
    rows = soup.select("table")[0].select("tbody tr")

    def risk(row) -> int:  # "20 · Critical", or "—" for nothing open
        text = row.select("td")[1].get_text(strip=True).split(" ")[0]
        return int(text) if text.isdigit() else 0

    risks = [risk(r) for r in rows]
    assert risks == sorted(risks, reverse=True)
    assert risks[0] == 20
    # One table, ranked 1, 2, 3 ... without gaps; each owner has an anchor.
    assert len(soup.select("table")) == 1
    assert [int(r.select("td")[0].get_text()) for r in rows] == list(range(1, len(rows) + 1))
    assert "By owning service" not in soup.get_text()
    for link in soup.select('a[href^="#owner-"]'):
        assert soup.find(id=link["href"][1:]) is not None
    # The threats column shows both risks, labelled by the header.
    header = [th.get_text(strip=True) for th in soup.select("table")[0].select("thead th")]
    assert header[1] == "Residual risk" and "inherent → residual" in header[-1]
    ids = [r.select("td")[2].get_text(" ", strip=True).split(" ")[0] for r in rows]
    exported = list(
        csv.DictReader(io.StringIO((example_site / "threat-models/backlog.csv").read_text()))
    )
    assert [row["mitigation"] for row in exported] == ids
    data = json.loads((example_site / "threat-models/backlog.json").read_text())
    assert [item["mitigation"] for item in data["items"]] == ids
    assert "done" not in {item["status"] for item in data["items"]}
    # Every backlog entry links to its mitigation on the model page.
    first = rows[0].select("td")[2].select_one("a")["href"]
    assert first.startswith("../") and "#mitigation-" in first


def test_heatmap_counts_open_threats_per_cell(example_site: Path) -> None:
    soup = content(page(example_site, "threat-models/heatmap/index.html"))
    cells = {
        (int(td["data-impact"]), int(td["data-likelihood"])): int(td["data-count"])
        for td in soup.select('table.tm-heatmap[data-kind="inherent"] td')
    }
    assert len(cells) == 25
    expected: dict[tuple[int, int], int] = {}
    for _, _, impact, likelihood in _open_threats():
        expected[(impact, likelihood)] = expected.get((impact, likelihood), 0) + 1
    assert {k: v for k, v in cells.items() if v} == expected
    assert cells[(5, 4)] >= 1  # the forged-JWT threat
    link = soup.select_one('td[data-impact="5"][data-likelihood="4"] a')
    assert soup.find(id=link["href"][1:]) is not None
    # Empty cells are neutral and show no count; filled ones carry their band.
    for td in soup.select("table.tm-heatmap td"):
        if td["data-count"] == "0":
            assert "tm-cell--empty" in td["class"] and td.find("a") is None
        else:
            assert "tm-cell--empty" not in td["class"] and td.find("a") is not None
    # The residual map holds the open threats with risk left, no higher than the inherent one.
    residual = soup.select('table.tm-heatmap[data-kind="residual"] td')
    assert len(residual) == 25
    assert 0 < sum(int(td["data-count"]) for td in residual) <= sum(cells.values())


def test_model_page_leads_with_what_to_fix_first(example_site: Path) -> None:
    soup = content(page(example_site, "threat-models/checkout/index.html"))
    headings = [h.get_text(strip=True).rstrip("¶") for h in soup.select("h2")]
    assert headings == [
        "Fix first",
        "Risk over time",
        "About this model",
        "Scope",
        "Data-flow diagram",
        "Threats",
        "Mitigations",
        "Components",
        "Flows",
        "Trust boundaries",
        "Assets",
        "Suggested threats",
        "STRIDE coverage",
    ]
    card = soup.select_one(".tm-card")
    assert "Highest residual risk" in card.get_text(" ") and "T-CHK-01" in card.get_text(" ")
    # The marker's day is later than the test repository's one commit.
    assert "Last review 2026-05-12 by Priya Raman" in " ".join(card.get_text(" ").split())
    # The fix-first table: open threats by residual risk, with the next mitigation.
    fix = soup.find(id="fix-first").find_next("table")
    rows = fix.select("tbody tr")
    residuals = [_risk(r.select("td")[1].get_text(" ", strip=True)) for r in rows]
    assert residuals == sorted(residuals, reverse=True) and residuals[0] == 20
    assert "M-CHK-01" in rows[0].get_text(" ")
    # Inline Markdown of a title renders as code, not as backticks.
    assert rows[0].select_one("code").get_text() == "aud"
    assert "`" not in fix.get_text()
    ids = {el["id"] for el in soup.select("[id]")}
    internal = [a["href"][1:] for a in soup.select('a[href^="#"]')]
    assert internal and set(internal) <= ids
    ingress = soup.find(id="ingress-points").find_next("table")
    assert "Customer browser" in ingress.get_text(" ")


def test_model_page_threats_by_residual_risk_closed_ones_apart(example_site: Path) -> None:
    soup = content(page(example_site, "threat-models/checkout/index.html"))
    open_rows = soup.select("table.tm-threats")[0].select("tbody tr")
    residuals = [_risk(r.select("td")[0].get_text(" ", strip=True)) for r in open_rows]
    assert residuals == sorted(residuals, reverse=True)
    assert all("tm-threat--closed" not in r["class"] for r in open_rows)
    closed = soup.select_one("details.tm-closed-threats")
    closed_rows = closed.select("table.tm-threats tbody tr")
    assert closed_rows and all("tm-threat--closed" in r["class"] for r in closed_rows)
    assert all("open" not in r.select_one(".tm-status")["class"][1] for r in closed_rows)
    # Every threat row is a link target, in one place only.
    threat_ids = [r["id"] for r in open_rows + closed_rows]
    assert len(threat_ids) == len(set(threat_ids)) and "threat-T-CHK-01" in threat_ids
    # The legend names only what this diagram draws: checkout has no partner-free model...
    legend = soup.select_one(".tm-legend").get_text(" ")
    assert "restricted boundary" in legend and "Icons show" in legend


def test_edit_link_of_a_model_page_opens_its_yaml(example_site: Path) -> None:
    soup = page(example_site, "threat-models/checkout/index.html")
    edit = soup.select_one("a.md-content__button[href*='edit']")
    assert edit["href"] == "https://git.example.com/shop/tm/-/edit/main/models/checkout.yaml"
    backlog = page(example_site, "threat-models/backlog/index.html")
    assert backlog.select_one("a.md-content__button[href*='edit']") is None


def test_stride_page_lists_threats_by_category_highest_residual_first(example_site: Path) -> None:
    soup = content(page(example_site, "threat-models/stride/index.html"))
    spoofing = soup.find(id="spoofing").find_next("table")
    risks = [_risk(td.get_text(" ", strip=True)) for td in spoofing.select("tbody td:first-child")]
    assert risks == sorted(risks, reverse=True) and risks[0] == 20
    # Closed threats are listed apart, and targets are linked titles, not ids.
    assert "Open threat" in spoofing.get_text() and "Closed threat" in soup.get_text()
    targets = spoofing.select("tbody tr")[0].select("td")[3].select("a")
    assert targets and all(not a.get_text().startswith("f") for a in targets[:1])


def test_search_index_contains_model_pages(example_site: Path) -> None:
    index = json.loads((example_site / "search" / "search_index.json").read_text())
    locations = {doc["location"] for doc in index["docs"]}
    assert "threat-models/checkout/" in locations
    assert any("Forged JWT" in doc["title"] for doc in index["docs"])


def test_the_repository_example_site_builds_strictly(tmp_path: Path) -> None:
    """The site of this repository (mkdocs.yml, docs/, models/), as the README builds it."""
    root = tmp_path / "example"
    root.mkdir()
    for name in ("docs", "models"):
        shutil.copytree(REPO / name, root / name)
    shutil.copy(REPO / "mkdocs.yml", root / "mkdocs.yml")
    (root / ".gitignore").write_text("site/\n.tm-docs-cache/\n")
    GitRepo(root).commit("Example site", "2026-06-01T10:00:00Z")
    proc = build(root / "mkdocs.yml", "--strict")
    assert proc.returncode == 0, proc.stderr
    assert (root / "site" / "guide" / "review" / "index.html").is_file()
    assert (root / "site" / "threat-models" / "stale" / "index.html").is_file()
    # The home page lists the models from the data, not from hand-written text.
    home = content(page(root / "site", "index.html"))
    listed = [a["href"] for a in home.select("li strong a")]
    assert "threat-models/checkout/" in listed and "threat-models/tm-docs/" in listed
    assert "tm-docs: models" not in home.get_text()


def test_no_model_id_can_take_a_site_wide_page() -> None:
    from tm_docs.model import RESERVED_MODEL_IDS
    from tm_docs.render.pages import SiteLayout

    assert set(SiteLayout.SITE_PAGES) <= RESERVED_MODEL_IDS
