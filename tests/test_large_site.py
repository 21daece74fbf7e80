"""A large portfolio's site-wide pages: a summary first, each owner's part on a page of its own.

The portfolio is tiny (four generated models) with `owner_pages_from` set low, so the
split that a site of hundreds of models gets is built, browsed and searched for real.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest
import yaml
from playwright.sync_api import sync_playwright

from benchmarks.portfolio_repo import make_portfolio
from tm_docs.analysis.settings import Settings
from tm_docs.config import ConfigError, settings_from_file
from tm_docs.load.models import load_models
from tm_docs.pipeline import build_site
from tm_docs.render.pages import environment
from tm_docs.render.views import owner_slug

from .gitrepo import GitRepo
from .sites import REPO, assert_no_script_channel, build, content, make_site, page
from .test_browser import ARGS, CHROMIUM, _serve
from .test_plugin_behaviour import HOSTILE

MODELS = 4
PREFIX = {
    "backlog": "Mitigation backlog: ",
    "stride": "STRIDE threats: ",
    "assets": "Asset inventory: ",
    "heatmap": "Risk heatmap: ",
    "coverage": "STRIDE coverage: ",
}


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site of a portfolio that is 'large' from 3 models on."""
    portfolio = make_portfolio(tmp_path_factory.mktemp("large"), MODELS, commits=10)
    config = yaml.safe_load(portfolio.config.read_text(encoding="utf-8"))
    for plugin in config["plugins"]:
        if isinstance(plugin, dict) and "tm-docs" in plugin:
            plugin["tm-docs"]["owner_pages_from"] = 3
    portfolio.config.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    proc = build(portfolio.config, "--strict")
    assert proc.returncode == 0, proc.stderr
    return portfolio.root / "site"


@functools.cache
def _ids(site: Path, path: str) -> frozenset[str]:
    return frozenset(str(tag["id"]) for tag in page(site, path).select("[id]"))


def _target(site: Path, from_page: str, href: str) -> tuple[str, str]:
    """The built file and fragment a relative link of a page points to."""
    url = urlparse(urljoin("/" + from_page, href))
    path = url.path.lstrip("/")
    return (path + "index.html" if path.endswith("/") or not path else path), url.fragment


def _backlog(site: Path) -> list[dict[str, object]]:
    data = json.loads((site / "threat-models/backlog.json").read_text(encoding="utf-8"))
    return list(data["items"])


def test_site_wide_pages_open_with_a_summary_and_link_every_owners_page(large: Path) -> None:
    for name in PREFIX:
        main = f"threat-models/{name}/index.html"
        article = content(page(large, main))
        headings = [h.get_text(" ", strip=True).rstrip("¶ ") for h in article.select("h2")]
        if name in ("backlog", "stride", "assets"):
            assert headings[:1] == ["What to fix first"], (name, headings)
        if name != "heatmap":
            assert "By owner" in headings, (name, headings)
        targets = {_target(large, main, str(a["href"]))[0] for a in article.select("a[href]")}
        owner_links = {t for t in targets if t.startswith(f"threat-models/{name}/") and t != main}
        assert owner_links, name
        for target in owner_links:
            assert (large / target).is_file(), target
            title = page(large, target).select_one("h1")
            assert title is not None and title.get_text().startswith(PREFIX[name]), target


def test_the_owners_pages_hold_every_backlog_row_once_and_the_summary_none(large: Path) -> None:
    items = _backlog(large)
    expected = Counter(f"backlog-{i['model']}_{i['mitigation']}" for i in items)
    found: Counter[str] = Counter()
    owners = {str(i["owner"]) for i in items}
    for owner in owners:
        path = f"threat-models/backlog/{owner_slug(owner)}/index.html"
        ids = [i for i in _ids(large, path) if i.startswith("backlog-")]
        found.update(ids)
        # An owner's page has that owner's rows only: the filter, without any script.
        mine = {f"backlog-{i['model']}_{i['mitigation']}" for i in items if i["owner"] == owner}
        assert set(ids) == mine
    assert found == expected
    summary = _ids(large, "threat-models/backlog/index.html")
    assert not [i for i in summary if i.startswith("backlog-")]
    # The summary lists the most urgent rows of the whole backlog, in its order.
    rows = content(page(large, "threat-models/backlog/index.html")).select("table")[0]
    numbers = [tr.select("td")[0].get_text(strip=True) for tr in rows.select("tbody tr")]
    assert numbers == [str(n) for n in range(1, len(numbers) + 1)] and numbers


def test_links_from_model_pages_land_on_their_backlog_row(large: Path) -> None:
    items = {f"backlog-{i['model']}_{i['mitigation']}": i for i in _backlog(large)}
    seen = set()
    for model_page in sorted(large.glob("threat-models/*/index.html")):
        path = model_page.relative_to(large).as_posix()
        for a in page(large, path).select('a[href*="#backlog-"]'):
            target, fragment = _target(large, path, str(a["href"]))
            assert fragment in _ids(large, target), (path, a["href"])
            item = items[fragment]
            assert target == f"threat-models/backlog/{owner_slug(str(item['owner']))}/index.html"
            seen.add(fragment)
    # Every mitigation still to do is linked from its model's page.
    assert seen == set(items)


def test_owners_pages_stay_out_of_the_navigation(large: Path) -> None:
    nav = page(large, "threat-models/backlog/index.html").select_one("nav.md-nav--primary")
    assert nav is not None
    text = nav.get_text(" ", strip=True)
    assert "Mitigation backlog" in text and "Mitigation backlog:" not in text


def test_search_finds_every_threat_by_id_and_title(large: Path) -> None:
    index = json.loads((large / "search/search_index.json").read_text(encoding="utf-8"))
    docs = [(d["location"], d["title"] + " " + d["text"]) for d in index["docs"]]
    root = large.parent
    loaded = load_models([root / "models"], root).models
    assert len(loaded) == MODELS
    for model in (m.model for m in loaded):
        on_page = " ".join(t for loc, t in docs if loc.startswith(f"threat-models/{model.id}/"))
        for threat in model.threats:
            assert threat.id in on_page, threat.id
            assert threat.title in on_page, threat.title
    # The owners' pages are searched too.
    assert any(loc.startswith("threat-models/stride/team-") for loc, _ in docs)


def test_the_owner_filter_works_in_a_browser_without_javascript(large: Path) -> None:
    served: Iterator[str] = _serve(large)
    url = next(served)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(
                java_script_enabled=False, viewport={"width": 390, "height": 800}
            )
            tab = context.new_page()
            tab.goto(url + "threat-models/backlog/")
            first = tab.locator("article table").nth(1).locator("tbody tr a").first
            owner = first.inner_text()
            first.click()
            tab.wait_for_load_state()
            heading = tab.locator("h1").inner_text().rstrip("¶").strip()
            assert heading == f"Mitigation backlog: {owner}"
            # The rows shown are this owner's: the numbers are ranks of its mitigations.
            ranks = tab.locator("article table tbody tr td:first-child").all_inner_texts()
            mine = [str(n) for n, i in enumerate(_backlog(large), 1) if i["owner"] == owner]
            shown = [r.strip() for r in ranks if r.strip()]
            assert shown and set(shown) <= set(mine), (shown, mine)
            # The page fits the phone: no sideways scrolling of the page itself.
            width = tab.evaluate("document.documentElement.scrollWidth")
            assert width <= 390
            browser.close()
    finally:
        served.close()


def test_a_small_site_keeps_one_page_each(tmp_path: Path) -> None:
    settings = Settings(root=REPO, models_dir=REPO / "models", cache_dir=None, diagrams=False)
    paths = [f.path for f in build_site(settings).files]
    assert "threat-models/backlog.md" in paths
    assert not [p for p in paths if re.match(r"threat-models/(backlog|stride|assets|heatmap)/", p)]


def test_owner_slugs_are_stable_distinct_and_safe() -> None:
    assert owner_slug("team-payments") == "team-payments"
    names = ["Team A", "team a", "team-a", "index", "../../etc", "<script>", "Ünïcode"]
    slugs = [owner_slug(n) for n in names]
    assert len(set(slugs)) == len(names)
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9-]*", s) for s in slugs), slugs
    assert "index" not in slugs
    assert owner_slug("Team A") == slugs[0]
    # The backlog's owner anchors are named the same way, so they never clash either.
    macros = environment().get_template("_macros.md.j2").module
    assert [str(macros.owner_anchor(n)) for n in names] == [f"owner-{s}" for s in slugs]


def test_owner_pages_from_must_not_be_negative(tmp_path: Path) -> None:
    config = tmp_path / "mkdocs.yml"
    config.write_text(
        "site_name: x\nplugins:\n  - tm-docs:\n      owner_pages_from: -1\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="owner_pages_from"):
        settings_from_file(config)


def test_every_link_of_the_split_pages_lands_on_an_element(large: Path) -> None:
    checked = 0
    for name in PREFIX:
        pages = [large / f"threat-models/{name}/index.html"]
        pages += sorted((large / f"threat-models/{name}").glob("*/index.html"))
        for built in pages:
            path = built.relative_to(large).as_posix()
            for a in content(page(large, path)).select("a[href]"):
                href = str(a["href"])
                if href.startswith(("http:", "https:")):
                    continue
                target, fragment = _target(large, path, href)
                assert (large / target).is_file(), (path, href)
                if fragment and not fragment.startswith("__"):
                    assert fragment in _ids(large, target), (path, href)
                    checked += 1
    assert checked > 100


def test_hostile_owner_names_make_safe_owner_pages(tmp_path: Path) -> None:
    config = make_site(tmp_path, HOSTILE, plugin={"owner_pages_from": 1}, git=False)
    for path in (tmp_path / "models").glob("*.yaml"):
        if path.name != "hostile.yaml":
            path.unlink()
    GitRepo(tmp_path).commit("The site", "2026-01-01T00:00:00Z")
    proc = build(config, "--strict")
    assert proc.returncode == 0, proc.stderr
    site = tmp_path / "site"
    owner = "\"><svg onload=window.__pwned='owner'>"
    stride = site / f"threat-models/stride/{owner_slug(owner)}/index.html"
    heading = page(site, stride.relative_to(site).as_posix()).select_one("h1")
    assert heading is not None and heading.get_text().rstrip("¶") == f"STRIDE threats: {owner}"
    owner_pages = [p for p in (site / "threat-models").glob("*/*/index.html")]
    assert len(owner_pages) >= 5
    for built in owner_pages + sorted((site / "threat-models").glob("*/index.html")):
        soup = page(site, built.relative_to(site).as_posix())
        assert_no_script_channel(soup, built)
        if built.parent.parent.parent.name == "threat-models":  # an owner's page
            assert not content(soup).find_all(["script", "iframe", "object", "embed", "svg"])


def test_owners_pages_lead_with_what_to_fix_first_and_fold_the_rest(large: Path) -> None:
    folded = 0
    for name in ("backlog", "stride", "assets"):
        for built in sorted((large / f"threat-models/{name}").glob("*/index.html")):
            article = content(page(large, built.relative_to(large).as_posix()))
            headings = [h.get_text(" ", strip=True).rstrip("¶ ") for h in article.select("h2")]
            assert headings[:1] == ["What to fix first"], (built, headings)
            # Nothing of the first table is folded; what is folded is a list of its own.
            first = article.select("table")[0]
            assert first.find_parent("details") is None, built
            for details in article.select("details.tm-more"):
                assert details.select_one("summary") is not None
                assert details.select("table tbody tr, li"), built
                folded += 1
    assert folded
    # Each owner's backlog: its ten most urgent rows shown, the rest (and only the rest)
    # folded, in the backlog's order.
    items = _backlog(large)
    for owner in {str(i["owner"]) for i in items}:
        path = f"threat-models/backlog/{owner_slug(owner)}/index.html"
        rows = [
            (str(span["id"]), span.find_parent("details") is not None)
            for span in content(page(large, path)).select('span[id^="backlog-"]')
        ]
        mine = [f"backlog-{i['model']}_{i['mitigation']}" for i in items if i["owner"] == owner]
        assert [r for r, _ in rows] == mine
        shown = [r for r, hidden in rows if not hidden]
        assert shown == mine[: len(shown)] and len(shown) == min(10, len(mine)), owner


def test_a_link_to_a_folded_row_unfolds_it_in_a_browser(large: Path) -> None:
    items = _backlog(large)
    owner, row = next(
        (str(i["owner"]), f"backlog-{i['model']}_{i['mitigation']}")
        for n, i in enumerate(items)
        if len([j for j in items[:n] if j["owner"] == i["owner"]]) >= 10
    )
    cell = next(
        str(div["id"])
        for built in sorted((large / "threat-models/heatmap").glob("*/index.html"))
        for div in content(page(large, built.relative_to(large).as_posix())).select(
            "details div[id]"
        )
    )
    served: Iterator[str] = _serve(large)
    url = next(served)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            tab = browser.new_page(viewport={"width": 390, "height": 800})
            tab.goto(url + f"threat-models/backlog/{owner_slug(owner)}/#{row}")
            target = tab.locator(f"#{row}").locator("xpath=ancestor::tr")
            target.wait_for(state="visible")
            assert target.is_visible() and target.bounding_box() is not None
            # A heatmap cell's link from the map unfolds that cell's list on the same page.
            heatmap = next(
                b
                for b in sorted((large / "threat-models/heatmap").glob("*/index.html"))
                if content(page(large, b.relative_to(large).as_posix())).select(f'[id="{cell}"]')
            )
            tab.goto(url + heatmap.relative_to(large).parent.as_posix() + "/")
            assert not tab.locator(f'[id="{cell}"] + ul li').first.is_visible()
            tab.locator(f'table.tm-heatmap a[href="#{cell}"]').first.click()
            tab.locator(f'[id="{cell}"] + ul li').first.wait_for(state="visible")
            browser.close()
    finally:
        served.close()
