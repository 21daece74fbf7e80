"""How the plugin behaves for users: options, errors, warnings, overrides, untrusted text."""

from __future__ import annotations

import os
import re
from pathlib import Path

from bs4 import Tag

from tm_docs.analysis.settings import Settings
from tm_docs.pipeline import Pipeline

from .conftest import HEADER, TYPO_IN_DESTINATION
from .gitrepo import GitRepo
from .sites import REPO, assert_no_script_channel, build, content, make_site, page

HOSTILE = REPO / "tests" / "fixtures" / "hostile"
BROKEN = HEADER.format(id="broken") + TYPO_IN_DESTINATION


def test_model_error_fails_the_build_with_file_line_and_no_traceback(tmp_path: Path) -> None:
    models = tmp_path / "in"
    models.mkdir()
    (models / "broken.yaml").write_text(BROKEN)
    proc = build(make_site(tmp_path / "site", models))
    assert proc.returncode == 1
    assert (
        "models/broken.yaml:12:18: flow 'f3': destination 'order-svc' is not a component "
        "of this model (did you mean 'order-service'?)"
    ) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_models_folder_is_a_clear_error(tmp_path: Path) -> None:
    config = make_site(tmp_path, plugin={"models": "nowhere"})
    proc = build(config)
    assert proc.returncode == 1
    assert "the models folder 'nowhere' does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_risk_bands_are_a_config_error(tmp_path: Path) -> None:
    config = make_site(tmp_path, plugin={"risk_bands": {"medium": 12, "high": 10}})
    proc = build(config)
    assert proc.returncode == 1
    assert "risk band thresholds must rise" in proc.stderr


def test_warnings_go_through_the_plugin_logger_and_fail_strict(tmp_path: Path) -> None:
    config = make_site(tmp_path)
    own = tmp_path / "docs" / "threat-models"
    own.mkdir()
    (own / "stride.md").write_text("# My own STRIDE page\n")
    assert build(config).returncode == 0
    proc = build(config, "--strict")
    assert proc.returncode == 1
    assert re.search(r"WARNING\s+-\s+tm_docs: docs/threat-models/stride.md exists", proc.stderr)
    assert "My own STRIDE page" in (tmp_path / "site/threat-models/stride/index.html").read_text()


def test_options_move_and_rename_the_section(tmp_path: Path) -> None:
    config = make_site(
        tmp_path,
        plugin={
            "path": "security/models",
            "nav_title": "Security",
            "nav_position": "start",
            "risk_bands": {"medium": 4, "high": 8, "critical": 20},
        },
    )
    assert build(config, "--strict").returncode == 0
    site = tmp_path / "site"
    nav = page(site, "index.html").select_one("nav.md-nav--primary")
    top = [
        li.find(["a", "label"]).get_text(" ", strip=True) for li in nav.select(":scope > ul > li")
    ]
    assert top[0].startswith("Security")
    soup = content(page(site, "security/models/checkout/index.html"))
    # 20 is the lowest critical score now, 12 is high, 8 high, 4 medium.
    assert "20 · Critical" in soup.get_text(" ")
    assert "8 · High" in soup.get_text(" ")


def test_user_templates_override_the_packaged_ones(tmp_path: Path) -> None:
    templates = tmp_path / "overrides"
    templates.mkdir()
    (templates / "heatmap.md.j2").write_text(
        "# Our heatmap\n\n{{ portfolio.open_threats | length }} open: {{ '<b>' }}\n"
    )
    config = make_site(tmp_path, plugin={"templates": str(templates)})
    assert build(config, "--strict").returncode == 0
    soup = content(page(tmp_path / "site", "threat-models/heatmap/index.html"))
    assert soup.h1.get_text(strip=True).rstrip("¶") == "Our heatmap"
    assert soup.find("b") is None and "open: <b>" in soup.get_text()


def test_a_user_template_edited_between_builds_of_one_process_is_used(tmp_path: Path) -> None:
    # What `mkdocs serve` does: the same process builds again after the template changed.
    templates = tmp_path / "overrides"
    templates.mkdir()
    heatmap = templates / "heatmap.md.j2"
    heatmap.write_text("# First heatmap\n")
    make_site(tmp_path, git=False)
    settings = Settings(
        root=tmp_path,
        models_dir=tmp_path / "models",
        template_dirs=(templates,),
        diagrams=False,
        staleness=False,
    )
    pipeline = Pipeline(settings)
    texts = {f.path: f.content for f in pipeline.build().files}
    assert "# First heatmap" in str(texts["threat-models/heatmap.md"])
    heatmap.write_text("# Second heatmap\n")
    later = os.stat(heatmap).st_mtime + 10
    os.utime(heatmap, (later, later))
    texts = {f.path: f.content for f in pipeline.build().files}
    assert "# Second heatmap" in str(texts["threat-models/heatmap.md"])


HOSTILE_NAME = 'x"><img src=x onerror=window.__pwned=1>.yaml'
HOSTILE_SUBJECT = "<svg class=\"tm-chart\" onload=window.__pwned='subject'></svg> {{ 7*7 }}"
# git drops '<' and '>' from names; the rest of Markdown and HTML syntax stays.
HOSTILE_AUTHOR = "Eve | [x](javascript:window.__pwned='author') &amp; {{ 7*7 }}"

# What tm-docs' own charts may contain (render/trend_chart.py): their elements and
# attributes, nothing else; written here again so that the test checks the builder.
CHART_SVG = {
    "svg": {
        "class",
        "xmlns",
        "viewBox",
        "preserveAspectRatio",
        "role",
        "aria-labelledby",
        "aria-label",
        "focusable",
    },
    "title": {"id"},
    "desc": {"id"},
    "g": {"class"},
    "path": {"class", "d", "fill"},
    "rect": {"class", "x", "y", "width", "height", "fill"},
    "line": {"class", "x1", "y1", "x2", "y2", "stroke"},
    "text": {"class", "x", "y", "text-anchor", "fill"},
}


def _checked_charts(article: Tag) -> int:
    """Remove tm-docs' charts from the article after checking that each is only that:
    an <svg class="tm-chart"> made of the charts' elements and attributes, whose
    values hold no markup.  Returns how many there were."""
    charts = article.find_all("svg")
    for chart in charts:
        classes = chart.get("class") or []
        assert "tm-chart" in classes, chart
        # A trend chart in its figure, or the overview's stacked bar of open risk by band.
        in_trend = chart.find_parent("figure", class_="tm-trend") is not None
        assert in_trend or classes == ["tm-chart", "tm-chart--bands"], chart
        for element in [chart, *chart.find_all(True)]:
            assert element.name in CHART_SVG, element.name
            allowed = {a.lower() for a in CHART_SVG[element.name]}  # the parser lowercases
            assert set(element.attrs) <= allowed, (element.name, element.attrs)
            for value in element.attrs.values():
                text = " ".join(value) if isinstance(value, list) else str(value)
                assert "<" not in text and "(" not in text, (element.name, text)
        chart.decompose()
    return len(charts)


def _hostile_site(tmp_path: Path) -> Path:
    config = make_site(
        tmp_path,
        HOSTILE,
        extra={
            "repo_url": "https://github.com/example/x",
            "edit_uri": "edit/main/docs/",
            "plugins": ["search", "tags", "tm-docs"],
        },
    )
    # Only the hostile model, under a hostile file name too.
    for path in (tmp_path / "models").glob("*.yaml"):
        if path.name == "hostile.yaml":
            path.rename(path.with_name(HOSTILE_NAME))
            with path.with_name(HOSTILE_NAME).open("a", encoding="utf-8") as changed:
                changed.write("# renamed and changed\n")
        else:
            path.unlink()
    # Committed by a hostile author with a hostile subject: the risk trend shows both.
    repo = GitRepo(tmp_path)
    repo.git("add", "-A")
    repo.git(
        "-c",
        f"user.name={HOSTILE_AUTHOR}",
        "commit",
        "-q",
        "-m",
        HOSTILE_SUBJECT,
        date="2026-01-02T00:00:00Z",
    )
    proc = build(config, "--strict")
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "site"


def test_hostile_model_text_is_shown_but_never_becomes_markup(tmp_path: Path) -> None:
    site = _hostile_site(tmp_path)
    pages = sorted((site / "threat-models").rglob("*.html"))
    assert len(pages) == 9
    # The controls page lists the hostile mitigation under a control that looks like a link.
    controls = content(page(site, "threat-models/controls/index.html"))
    assert [h.get_text() for h in controls.find_all("h2")] == ["CWE", "javascript"]
    assert "alert(1)" in [c.get_text() for c in controls.select("td .tm-id")]
    links = {a.get_text(): a["href"] for a in controls.find_all("a")}
    assert links["M1 Fix"] == "../hostile/#mitigation-M1"  # the script is gone, the link kept
    for html_file in pages:
        soup = page(site, str(html_file.relative_to(site)))
        assert_no_script_channel(soup, html_file)  # the whole page, header and navigation
        article = content(soup)
        for button in article.select(".md-content__button"):  # the theme's own icons
            button.decompose()
        if html_file.name == "index.html" and html_file.parent.name in ("hostile", "threat-models"):
            # The model page and the overview each have a risk-trend chart.
            assert len(article.select("figure.tm-trend svg")) == 1, html_file
        _checked_charts(article)
        assert not article.find_all(["script", "iframe", "svg", "style", "marquee", "u", "embed"])
        # The only images and objects are the model's own data-flow diagram.
        assert {e.get("src") or e.get("data") for e in article.find_all(["img", "object"])} <= {
            "dfd.svg"
        }
        assert not [s for s in soup.find_all("script") if "__pwned" in s.get_text()]
        assert not soup.find_all("img", src="x")

    edit = page(site, "threat-models/hostile/index.html").select_one("a.md-content__button")
    assert edit["href"] == (
        "https://github.com/example/x/edit/main/models/"
        "x%22%3E%3Cimg%20src%3Dx%20onerror%3Dwindow.__pwned%3D1%3E.yaml"
    )

    model_page = content(page(site, "threat-models/hostile/index.html"))
    text = model_page.get_text(" ")
    # The values are all there, as text.
    title = (
        "</title><script>window.__pwned='title'</script> [x](javascript:window.__pwned='md') | col"
    )
    assert model_page.h1.get_text().rstrip("¶") == title
    whole = page(site, "threat-models/hostile/index.html")
    assert whole.title.get_text().startswith(title)
    nav = whole.select_one("nav.md-nav--primary")
    assert title in nav.get_text()
    tags = [t.get_text(strip=True) for t in whole.select(".md-tag")]
    assert "\"><svg onload=window.__pwned='owner'>" in tags
    for fragment in (
        "\"><svg onload=window.__pwned='owner'>",
        "<marquee>HTTP</marquee>",
        "=cmd|' /C calc'!A0",
        "{{ 7*7 }}",
        "Secret &amp; <em>key</em>",
    ):
        assert fragment in text, fragment
    # The risk trend names the model, the commit's subject and its author, as text.
    trend = model_page.select_one("figure.tm-trend svg title")
    assert trend is not None and title in trend.get_text()
    data = model_page.select_one("details.tm-trend__data").get_text(" ")
    assert HOSTILE_SUBJECT in data and HOSTILE_AUTHOR in data
    # Markdown descriptions keep their formatting but lose the dangerous parts.
    assert model_page.find("strong", string="bold") is not None
    assert model_page.find("a", string="a link") is not None
    assert model_page.find("a", string="a link").get("href") is None
    # Tickets and references stay links, with the URL percent-encoded.
    ticket = model_page.find("a", string=re.compile("evil.example/'onmouseover"))
    assert ticket["href"] == "https://evil.example/%27onmouseover=%27window.__pwned=1%27"


def test_backlog_csv_defuses_spreadsheet_formulas(tmp_path: Path) -> None:
    config = make_site(tmp_path, HOSTILE)
    assert build(config).returncode == 0
    csv_text = (tmp_path / "site/threat-models/backlog.csv").read_text()
    assert ",'=cmd|' /C calc'!A0," in csv_text
