"""The built site in headless Chromium, served over HTTP as a reader would see it.

Uses Debian's chromium (no browser downloads) driven by Playwright for Python.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from .sites import build, make_site
from .test_plugin_behaviour import _hostile_site

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _serve(site: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def example_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browse")
    assert build(make_site(root), "--strict").returncode == 0
    yield from _serve(root / "site")


@pytest.fixture(scope="module")
def hostile_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _serve(_hostile_site(tmp_path_factory.mktemp("hostile")))


class Watch:
    """Console errors, page errors and dialogs of one browser page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))


def test_reader_goes_from_index_to_model_to_category_to_backlog_and_back(
    browser: Browser, example_url: str
) -> None:
    page = browser.new_page()
    watch = Watch(page)
    page.goto(example_url + "threat-models/")
    assert page.locator("h1").first.inner_text().startswith("Threat models")

    page.locator("article a", has_text="Checkout").first.click()
    page.wait_for_url("**/threat-models/checkout/")
    assert page.locator("h1").first.inner_text().startswith("Checkout")

    # The table of contents leads to a STRIDE category of this model.
    page.locator(".md-sidebar--secondary a", has_text="Spoofing").first.click()
    page.wait_for_url("**/threat-models/checkout/#spoofing")
    assert page.locator("#spoofing").is_visible()

    # From a threat to the site-wide STRIDE page, through the navigation.
    page.locator("nav.md-nav--primary a", has_text="STRIDE threats").first.click()
    page.wait_for_url("**/threat-models/stride/")
    first = page.locator("#spoofing ~ .md-typeset__scrollwrap table tbody tr").first
    assert "20" in first.inner_text()

    page.locator("nav.md-nav--primary a", has_text="Mitigation backlog").first.click()
    page.wait_for_url("**/threat-models/backlog/")
    assert page.locator("article table tbody tr").count() > 5

    page.go_back()
    page.wait_for_url("**/threat-models/stride/")
    page.go_back()
    page.wait_for_url("**/threat-models/checkout/**")
    assert watch.errors == [] and watch.dialogs == []


def test_heatmap_cell_links_to_its_threats(browser: Browser, example_url: str) -> None:
    page = browser.new_page()
    watch = Watch(page)
    page.goto(example_url + "threat-models/heatmap/")
    cell = page.locator('td[data-impact="5"][data-likelihood="4"] a')
    cell.click()
    page.wait_for_url("**/heatmap/#cell-5-4")
    heading = page.locator("h2:has(#cell-5-4)")
    assert heading.is_visible()
    assert heading.evaluate("h => h.getBoundingClientRect().top") < 300  # scrolled to it
    listed = heading.locator("xpath=following-sibling::ul[1]").inner_text()
    assert "Forged JWT with missing audience validation" in listed
    assert watch.errors == []


def test_search_finds_a_threat(browser: Browser, example_url: str) -> None:
    page = browser.new_page()
    page.goto(example_url)
    page.wait_for_load_state("networkidle")
    page.keyboard.press("/")  # Material's shortcut to open search
    page.locator("input.md-search__input").press_sequentially("audience", delay=50)
    results = page.locator(".md-search-result__item")
    results.first.wait_for(timeout=20_000)
    assert "Forged JWT" in page.locator(".md-search-result").inner_text()


def test_hostile_model_executes_nothing(browser: Browser, hostile_url: str) -> None:
    page = browser.new_page()
    watch = Watch(page)
    paths = ["", "backlog/", "heatmap/", "stride/", "assets/", "coverage/", "stale/", "hostile/"]
    for path in paths:
        page.goto(hostile_url + "threat-models/" + path)
        page.wait_for_load_state("networkidle")
        # Hover and click whatever the model's text produced, to trigger handlers.
        for link in page.locator("article a").all()[:40]:
            link.hover()
        assert page.evaluate("window.__pwned") is None, path
    assert watch.dialogs == []
    assert page.evaluate("document.title").startswith("</title><script>")


def test_hostile_diagram_and_search_results_execute_nothing(
    browser: Browser, hostile_url: str
) -> None:
    page = browser.new_page()
    watch = Watch(page)
    # The diagram on its own, as "Open the diagram on its own" shows it: its links and
    # titles carry the model's text.
    page.goto(hostile_url + "threat-models/hostile/dfd.svg")
    page.wait_for_load_state("networkidle")
    for link in page.locator("a").all()[:40]:
        for event in ("mouseover", "focus", "mousedown"):
            link.dispatch_event(event)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("script, foreignObject").count() == 0
    # The search index holds every text of the model; its results are shown as HTML.
    page.goto(hostile_url)
    page.wait_for_load_state("networkidle")
    found = 0
    for term in ("broken", "Core", "onerror", "script", "pwned"):
        page.keyboard.press("/")
        search = page.locator("input.md-search__input")
        search.fill("")
        search.press_sequentially(term, delay=20)
        page.locator(".md-search-result__meta").wait_for(timeout=20_000)
        page.wait_for_timeout(300)
        shown = page.locator(".md-search-result__item")
        found += shown.count()
        for item in shown.all()[:20]:
            item.dispatch_event("mouseover")
        assert page.evaluate("window.__pwned") is None, term
        page.keyboard.press("Escape")
    assert found > 0  # the search did show the hostile text
    assert watch.dialogs == []


def test_diagram_displays_and_links_to_the_page(browser: Browser, example_url: str) -> None:
    page = browser.new_page()
    watch = Watch(page)
    page.goto(example_url + "threat-models/checkout/")
    page.wait_for_load_state("networkidle")
    frame = next(f for f in page.frames if f.url.endswith("/threat-models/checkout/dfd.svg"))
    # Every embedded icon decodes into a picture with a size.
    sizes = frame.evaluate(
        """async () => Promise.all([...document.querySelectorAll('image')].map(img =>
            new Promise(resolve => {
                const probe = new Image();
                probe.onload = () => resolve([probe.naturalWidth, probe.naturalHeight]);
                probe.onerror = () => resolve([0, 0]);
                probe.src = img.getAttribute('xlink:href');
            })))"""
    )
    assert sizes and all(w > 0 and h > 0 for w, h in sizes)
    box = page.locator(".tm-dfd object").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 300
    # A component in the diagram leads to its row in the components table.
    frame.locator("a[*|href='./#component-orders-db']").first.click()
    page.wait_for_url("**/threat-models/checkout/#component-orders-db")
    assert watch.errors == []
