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

    # The fix-first table leads to the threat's row in the threats table.
    page.locator("#fix-first ~ .md-typeset__scrollwrap a", has_text="T-CHK-01").first.click()
    page.wait_for_url("**/threat-models/checkout/#threat-T-CHK-01")
    assert page.locator("#threat-T-CHK-01").is_visible()

    # From a threat to the site-wide STRIDE page, through the navigation.
    page.locator("nav.md-nav--primary a", has_text="STRIDE threats").first.click()
    page.wait_for_url("**/threat-models/stride/")
    first = page.locator("#spoofing ~ .md-typeset__scrollwrap table tbody tr").first
    assert "20 · Critical" in first.inner_text()

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
    cell = page.locator('table[data-kind="inherent"] td[data-impact="5"][data-likelihood="4"] a')
    cell.click()
    page.wait_for_url("**/heatmap/#inherent-5-4")
    heading = page.locator("h3:has(#inherent-5-4)")
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
    paths = [
        *["", "backlog/", "heatmap/", "stride/", "assets/", "coverage/", "stale/", "controls/"],
        "hostile/",
    ]
    for path in paths:
        page.goto(hostile_url + "threat-models/" + path, wait_until="load")
        # Open what is collapsed (closed threats, suggestions), then send every element
        # of the article the events a reader's pointer and keyboard would, to trigger any
        # handler the model's text might have smuggled in.
        page.evaluate(
            """() => {
                document.querySelectorAll('details').forEach(d => { d.open = true; });
                const events = ['pointerover', 'mouseover', 'mouseenter', 'mousemove', 'focus',
                                'focusin', 'pointerdown', 'mouseup', 'keydown'];
                for (const e of document.querySelectorAll('article *')) {
                    for (const type of events) {
                        e.dispatchEvent(new Event(type, {bubbles: true}));
                    }
                }
            }"""
        )
        links = page.locator("article a:visible")
        if links.count():
            links.first.hover()  # and one real pointer
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


SITE_PAGES = ["", "backlog/", "heatmap/", "stride/", "assets/", "coverage/", "stale/", "controls/"]
MODEL_PAGES = ["checkout/", "identity/", "notifications/", "tm-docs/"]


def test_every_page_fits_a_phone_and_logs_no_errors(browser: Browser, example_url: str) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    watch = Watch(page)
    for path in ["../", *SITE_PAGES, *MODEL_PAGES]:
        page.goto(example_url + "threat-models/" + path, wait_until="load")
        # Only tables and the diagram frame may scroll sideways, never the page.
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, path
    # On a phone the diagram opens on the middle of the drawing, not its left edge.
    page.goto(example_url + "threat-models/checkout/", wait_until="load")
    frame = page.locator(".tm-dfd__frame")
    scroll = frame.evaluate("f => [f.scrollLeft, f.scrollWidth - f.clientWidth]")
    assert scroll[1] > 0 and abs(scroll[0] - scroll[1] / 2) <= 2
    assert page.locator(".tm-dfd__cue").is_visible()  # and says it scrolls
    assert watch.errors == [] and watch.dialogs == []


def test_model_page_is_risk_first_with_readable_diagram(browser: Browser, example_url: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    watch = Watch(page)
    for model in MODEL_PAGES:
        page.goto(example_url + "threat-models/" + model, wait_until="load")
        fix = page.locator("#fix-first ~ .md-typeset__scrollwrap table").first.bounding_box()
        figure = page.locator("figure.tm-dfd").bounding_box()
        assert fix is not None and figure is not None
        assert fix["y"] + fix["height"] < figure["y"], model  # the table comes first
        diagram = next(f for f in page.frames if f.url.endswith(f"/{model}dfd.svg"))
        # Drawing units to CSS pixels, times the smallest font size drawn.
        smallest = diagram.evaluate(
            """() => {
                const scale = document.documentElement.getScreenCTM().a;
                const sizes = [...document.querySelectorAll('text')]
                    .map(t => parseFloat(getComputedStyle(t).fontSize));
                return Math.min(...sizes) * scale;
            }"""
        )
        assert smallest >= 11, (model, smallest)
        # Spaces between a flow id and its protocol survive ("f1 HTTPS", not "f1HTTPS").
        widths = diagram.evaluate(
            "() => [...document.querySelectorAll('text')].filter(t => "
            "t.textContent.startsWith(' ')).map(t => t.getComputedTextLength())"
        )
        assert widths and all(w > 0 for w in widths)
    # Closed threats look closed: grey, never a band colour; open ones keep theirs.
    page.goto(example_url + "threat-models/checkout/", wait_until="load")
    page.locator("details.tm-closed-threats > summary").click()
    closed = page.locator("tr.tm-threat--closed .tm-risk").first
    opened = page.locator("tr.tm-threat:not(.tm-threat--closed) .tm-risk--critical").first
    assert closed.is_visible()
    grey = closed.evaluate("e => getComputedStyle(e).backgroundColor")
    red = opened.evaluate("e => getComputedStyle(e).backgroundColor")
    assert grey == "rgb(236, 239, 241)" and red == "rgb(183, 28, 28)"
    # A diagram wider than Material's column gets the window's width: checkout's then fits.
    frame = page.locator(".tm-dfd__frame")
    assert frame.evaluate("f => f.scrollWidth <= f.clientWidth + 1")
    box = frame.bounding_box()
    assert box is not None and box["width"] > 1000
    # The overview's charts are drawn, in the band colours of the badges.
    page.goto(example_url + "threat-models/", wait_until="load")
    critical = page.locator("svg.tm-chart--bands rect.tm-fill--critical").first
    part = critical.bounding_box()
    assert part is not None and part["width"] > 0 and part["height"] > 0
    assert critical.evaluate("e => getComputedStyle(e).fill") == red
    assert watch.errors == []


def test_full_screen_diagram_opens_zooms_and_closes(browser: Browser, example_url: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    watch = Watch(page)
    page.goto(example_url + "threat-models/identity/", wait_until="load")
    page.locator(".tm-dfd__open").click()
    viewer = page.locator(".tm-viewer")
    assert viewer.is_visible()
    canvas = page.locator(".tm-viewer__canvas")
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 1300  # the whole screen
    # The drawing shows its icons, which are files of the site, here too.
    sizes = page.evaluate(
        """async () => Promise.all([...document.querySelectorAll('.tm-viewer__canvas image')]
            .map(img => new Promise(resolve => {
                const probe = new Image();
                probe.onload = () => resolve([probe.naturalWidth, probe.naturalHeight]);
                probe.onerror = () => resolve([0, 0]);
                probe.src = new URL(img.getAttribute('xlink:href'), document.baseURI).href;
            })))"""
    )
    assert sizes and all(w > 0 and h > 0 for w, h in sizes)
    before = canvas.get_attribute("viewBox")
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -300)
    zoomed = canvas.get_attribute("viewBox")
    assert zoomed != before
    assert float(zoomed.split()[2]) < float(before.split()[2])  # zoomed in
    page.mouse.down()
    page.mouse.move(box["x"] + 100, box["y"] + 100)
    page.mouse.up()
    assert canvas.get_attribute("viewBox").split()[:2] != zoomed.split()[:2]  # panned
    page.keyboard.press("Escape")
    assert page.locator(".tm-viewer").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    assert watch.errors == []


def test_risk_trend_charts_render_with_a_size_and_an_accessible_name(
    browser: Browser, example_url: str
) -> None:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    watch = Watch(page)
    for path, name in (
        ("threat-models/checkout/", "Open threats of Checkout by residual band, per commit"),
        ("threat-models/", "Open threats of all models by residual band, per commit"),
    ):
        page.goto(example_url + path)
        chart = page.get_by_role("img", name=name)
        box = chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100, box
        # The stacked areas are drawn, inside the chart.
        area = page.locator("svg.tm-chart--trend path.tm-chart__band").first.bounding_box()
        assert area is not None and area["width"] > 100 and area["height"] > 1, area
        assert area["x"] >= box["x"] and area["x"] + area["width"] <= box["x"] + box["width"] + 1
        # The data sits behind a toggle, closed until asked for.
        table = page.locator("details.tm-trend__data table")
        assert not table.is_visible()
        page.locator("details.tm-trend__data > summary").click()
        assert table.is_visible()
    assert not watch.errors and not watch.dialogs
    page.close()
