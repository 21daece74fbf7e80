"""Data-flow diagrams: real layout by Graphviz through `diagrams`, checked in the SVG."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from xml.etree import ElementTree

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from tm_docs.analysis.settings import Settings
from tm_docs.cli import main
from tm_docs.dfd.build import CROSSING_COLOR, INGRESS_COLOR, draw
from tm_docs.dfd.graphviz import dot_path
from tm_docs.dfd.render import DiagramRenderer, open_diagram_cache
from tm_docs.load.cache import CacheFolder
from tm_docs.load.models import load_file
from tm_docs.pipeline import BuildError, Pipeline, build_site

from .conftest import EXAMPLE_MODELS
from .sites import build, make_site

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}href"


def _checkout():
    model, problems = load_file(EXAMPLE_MODELS / "checkout.yaml")
    assert model is not None, problems
    return model


def _svg(model, renderer: DiagramRenderer | None = None) -> ElementTree.Element:
    data = (renderer or DiagramRenderer()).render(draw(model, link_base="./"))
    return ElementTree.fromstring(data)


def _groups(root: ElementTree.Element, cls: str) -> dict[str, ElementTree.Element]:
    return {g.findtext(f"{SVG}title", ""): g for g in root.iter(f"{SVG}g") if g.get("class") == cls}


def test_svg_is_self_contained() -> None:
    root = _svg(_checkout())
    references = [
        value
        for element in root.iter()
        for name, value in element.attrib.items()
        if name in (XLINK, "href", "src")
    ]
    links = [v for v in references if v.startswith("./#")]
    uses = [v for v in references if v.startswith("#tm-icon-")]
    images = [v for v in references if v not in links and v not in uses]
    assert images, "the example uses icons"
    assert all(v.startswith("data:image/png;base64,") for v in images)
    # Each icon is embedded once and used by every node that shows it.
    assert len(images) == len(set(images)) < len(uses)
    text = ElementTree.tostring(root, encoding="unicode")
    assert "file:" not in text
    assert not re.search(r"""(href|src)=["']/""", text)
    assert "site-packages" not in text


def test_boundaries_components_and_flows_are_drawn_and_linked() -> None:
    model = _checkout()
    root = _svg(model)
    clusters = _groups(root, "cluster")
    assert set(clusters) == {f"cluster_{b.id}" for b in model.boundaries}
    nodes = _groups(root, "node")
    assert set(nodes) == {f"c_{c.id}" for c in model.components}
    link = nodes["c_api-gateway"].find(f".//{SVG}a")
    assert link is not None and link.get(XLINK) == "./#component-api-gateway"
    assert link.get("target") == "_top"
    edges = _groups(root, "edge")
    assert len(edges) == len(model.flows)
    # Nested boundaries are nested clusters in the graph.
    source = draw(model).source
    vpc = source.index("subgraph cluster_vpc")
    zone = source.index('subgraph "cluster_payments-zone"')
    assert vpc < zone < source.index("}", zone) < source.rindex("}")


def _edge(root: ElementTree.Element, source: str, destination: str) -> ElementTree.Element:
    return _groups(root, "edge")[f"c_{source}->c_{destination}"]


def test_ingress_crossings_and_weak_flows_are_marked() -> None:
    root = _svg(_checkout())
    ingress = _edge(root, "customer-client", "api-gateway")
    path = ingress.find(f".//{SVG}path")
    assert path is not None and path.get("stroke", "").upper() == INGRESS_COLOR
    assert "▶" in "".join(ingress.itertext())
    crossing = _edge(root, "api-gateway", "order-service")
    assert crossing.find(f".//{SVG}path").get("stroke", "").upper() == CROSSING_COLOR
    # The payment provider's webhook is unauthenticated: dashed and flagged.
    webhook = _edge(root, "payment-provider", "api-gateway")
    assert webhook.find(f".//{SVG}path").get("stroke-dasharray")
    assert "⚠ no auth" in "".join(webhook.itertext())
    inside = _edge(root, "order-service", "orders-db")
    assert inside.find(f".//{SVG}path").get("stroke-dasharray") is None


def test_components_with_open_critical_threats_are_marked() -> None:
    root = _svg(_checkout())
    gateway = "".join(_groups(root, "node")["c_api-gateway"].itertext())
    assert "open critical risk 20" in gateway
    database = "".join(_groups(root, "node")["c_orders-db"].itertext())
    assert "risk" not in database


AWKWARD = [
    'He said "hi" \\ and \\N left',
    '<b>bold</b> & <IMG SRC="/etc/passwd"/>',
    "{braces} | [brackets] ; semi",
    "escapes \\t and \\n written out",
    "Zürich → 東京 ✓",
    "ends with a backslash \\",
    "<<html-like>>",
]


def _awkward_model(write_model) -> Path:
    """A model whose every drawn text is one of AWKWARD."""
    body = f"boundaries:\n  - id: b\n    title: {_yaml_str(AWKWARD[1])}\n    trust: internal\n"
    body += "components:\n"
    for i, title in enumerate(AWKWARD):
        body += f"  - id: c{i}\n    title: {_yaml_str(title)}\n    kind: process\n"
        body += f"    boundary: b\n    technology: {_yaml_str(title)}\n"
    body += "flows:\n"
    for i, title in enumerate(AWKWARD):
        body += f"  - id: f{i}\n    title: {_yaml_str(title)}\n    protocol: {_yaml_str(title)}\n"
        body += f"    source: c{i}\n    destination: c{(i + 1) % len(AWKWARD)}\n"
    return write_model(body)


def _yaml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # JSON strings are YAML strings


def test_any_characters_in_labels_are_drawn_as_text(write_model) -> None:
    model, problems = load_file(_awkward_model(write_model))
    assert model is not None, problems
    data = DiagramRenderer().render(draw(model))
    root = ElementTree.fromstring(data)  # well-formed XML
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    joined = " ".join(texts)
    for title in AWKWARD:
        for word in title.split():
            assert word in joined, word
    # Markup in labels stays text: no element came from the model's text.
    tags = {element.tag.split("}")[1] for element in root.iter()}
    assert tags <= {
        "svg",
        "g",
        "title",
        "text",
        "path",
        "polygon",
        "ellipse",
        "a",
        "image",
        "polyline",
    }
    assert "/etc/passwd" not in [e.get(XLINK) for e in root.iter(f"{SVG}image")]


def _cache(root: Path) -> CacheFolder:
    opened = open_diagram_cache(root, "cache")
    assert isinstance(opened, CacheFolder), opened
    return opened


def test_cache_key_follows_what_is_drawn(tmp_path: Path) -> None:
    model = _checkout()
    renderer = DiagramRenderer(_cache(tmp_path))
    first = renderer.render(draw(model))
    assert renderer.stats.drawn == 1
    again = DiagramRenderer(_cache(tmp_path))  # a new process, same folder
    assert again.render(draw(model)) == first
    assert (again.stats.drawn, again.stats.cached) == (0, 1)
    # A threat's description is not drawn: same picture, same key.
    threats = [t.model_copy(update={"description": "changed"}) for t in model.threats]
    assert again.key(draw(model.model_copy(update={"threats": threats}))) == again.key(draw(model))
    # A flow's protocol is drawn: a new key.
    flows = [f.model_copy(update={"protocol": "QUIC"}) for f in model.flows]
    assert again.key(draw(model.model_copy(update={"flows": flows}))) != again.key(draw(model))


def _counting_dot(folder: Path) -> Path:
    """A `dot` on PATH that records each call and runs the real Graphviz."""
    real = shutil.which("dot")
    assert real
    folder.mkdir()
    log = folder / "calls.log"
    script = folder / "dot"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nexec "{real}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return log


def test_warm_rebuild_makes_no_graphviz_calls(tmp_path: Path) -> None:
    log = _counting_dot(tmp_path / "bin")
    config = make_site(tmp_path / "site")
    env_path = f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"
    cold = build(config, env={"PATH": env_path})
    assert cold.returncode == 0, cold.stderr
    # One `dot` run per example model (checkout, identity, notifications, tm-docs).
    assert len(log.read_text().splitlines()) == 4
    assert "data-flow diagrams: 4 drawn, 0 from the cache" in cold.stderr
    warm = build(config, env={"PATH": env_path})
    assert warm.returncode == 0, warm.stderr
    assert len(log.read_text().splitlines()) == 4
    assert "data-flow diagrams: 0 drawn, 4 from the cache" in warm.stderr
    assert (tmp_path / "site" / ".tm-docs-cache" / "dfd").is_dir()
    # Nothing was written into the working directory (the project folder) but the
    # built site and the cache: no DOT files, no images of `diagrams`' own.
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == [
        ".git",
        ".gitignore",
        ".tm-docs-cache",
        "docs",
        "mkdocs.yml",
        "models",
        "site",
    ]
    page = (tmp_path / "site" / "site" / "threat-models" / "checkout" / "index.html").read_text()
    assert 'data="dfd.svg"' in page.replace("&#46;", ".")


def test_missing_graphviz_fails_the_build_with_how_to_install(tmp_path: Path) -> None:
    config = make_site(tmp_path)
    proc = build(config, env={"PATH": str(Path(sys.executable).parent)})
    assert proc.returncode == 1
    assert "Graphviz's 'dot' program was not found on PATH" in proc.stderr
    assert "apt-get install graphviz" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def _script_dot(folder: Path, body: str) -> str:
    """PATH with a `dot` first that runs the shell `body` ($REAL is the real Graphviz)."""
    real = shutil.which("dot")
    assert real
    folder.mkdir()
    script = folder / "dot"
    script.write_text(f'#!/bin/sh\nREAL="{real}"\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return f"{folder}{os.pathsep}{os.environ['PATH']}"


def test_a_failed_layout_names_its_model_and_the_same_one_every_time(tmp_path: Path) -> None:
    # Graphviz fails on two models; the slower failure comes first in the models' order,
    # and is the one named: whichever layout ends first, the message is the same.
    path = _script_dot(
        tmp_path / "bin",
        'input=$(cat)\ncase "$input" in\n'
        '  *"digraph identity {"*) sleep 1; echo "Error: <stdin>: syntax error in line 3" >&2;'
        " exit 1 ;;\n"
        '  *"digraph notifications {"*) echo "Error: out of memory" >&2; exit 1 ;;\n'
        'esac\nprintf "%s\\n" "$input" | exec "$REAL" "$@"',
    )
    config = make_site(tmp_path / "site")
    proc = build(config, env={"PATH": path})
    assert proc.returncode == 1
    assert (
        "cannot draw the data-flow diagram of model 'identity' (models/identity.yaml): "
        "Graphviz failed: Error: <stdin>: syntax error in line 3 (or set 'diagrams: false'"
    ) in proc.stderr
    assert "notifications" not in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_graphviz_lays_out_while_the_models_are_analysed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    make_site(site)
    settings = Settings(root=site, models_dir=site / "models", cache_dir=None)
    expected = [(f.path, f.content) for f in build_site(settings).files]
    # A `dot` that says it started, then waits until the test lets it go on.
    marks = tmp_path / "marks"
    marks.mkdir()
    path = _script_dot(
        tmp_path / "bin",
        f'touch "{marks}/started-$$"\n'
        f'while [ ! -e "{marks}/go" ]; do sleep 0.02; done\n'
        'exec "$REAL" "$@"',
    )
    monkeypatch.setenv("PATH", path)
    dot_path.cache_clear()
    seen: list[str] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "analysing models" and not (marks / "go").exists():
            # Layouts started before the analysis: a `dot` is running now (the old order,
            # analysis first and layouts after, has none and lets go after the wait).
            for _ in range(1500):
                seen.extend(p.name for p in marks.glob("started-*"))
                if seen:
                    break
                time.sleep(0.02)
            (marks / "go").touch()

    pipeline = Pipeline(settings)
    pipeline.progress = progress
    try:
        built = pipeline.build()
    finally:
        (marks / "go").touch()
        monkeypatch.undo()
        dot_path.cache_clear()
    assert seen, "no layout was running while the models were analysed"
    assert "data-flow diagrams: 4 drawn, 0 from the cache; 4 graph(s) built" in built.notes
    # Collected from the parallel layouts, the files are those of a plain build.
    assert [(f.path, f.content) for f in built.files] == expected


def test_a_build_that_fails_after_its_layouts_started_stops_them(tmp_path: Path) -> None:
    site = tmp_path / "site"
    make_site(site)
    settings = Settings(root=site, models_dir=site / "models", cache_dir=None)
    before = set(threading.enumerate())
    pipeline = Pipeline(replace(settings, rule_dirs=(site / "no-such-rules",)))
    with pytest.raises(BuildError, match="problems in the threat rules"):
        pipeline.build()  # the rules fail after the diagrams were handed to Graphviz
    assert set(threading.enumerate()) <= before  # no layout thread left behind
    # The next build of the same pipeline (a `mkdocs serve` rebuild) is a whole one.
    pipeline.configure(settings)
    again = pipeline.build()
    assert [(f.path, f.content) for f in again.files] == [
        (f.path, f.content) for f in build_site(settings).files
    ]


def test_diagrams_can_be_turned_off(tmp_path: Path) -> None:
    config = make_site(tmp_path, plugin={"diagrams": False, "staleness": False})
    proc = build(config, "--strict", env={"PATH": str(Path(sys.executable).parent)})
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "site/threat-models/checkout/dfd.svg").exists()
    # Without history the card's last review is the model's own marker.
    html = (tmp_path / "site/threat-models/checkout/index.html").read_text(encoding="utf-8")
    card = BeautifulSoup(html, "html.parser").select_one(".tm-card")
    assert card is not None
    assert "Last review 2026-05-12 by Priya Raman" in " ".join(card.get_text(" ").split())


@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG")])
def test_dfd_command_writes_svg_and_png(tmp_path: Path, suffix: str, magic: bytes) -> None:
    out = tmp_path / f"checkout{suffix}"
    result = CliRunner().invoke(
        main, ["dfd", str(EXAMPLE_MODELS / "checkout.yaml"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(magic)
    assert list(tmp_path.iterdir()) == [out]  # nothing else written


def test_dfd_command_writes_an_svg_that_stands_alone(tmp_path: Path) -> None:
    # Unlike the site's diagrams (which share icon files), a diagram of `tm-docs dfd`
    # is sent around on its own: every icon is inside it, nothing refers outside.
    out = tmp_path / "checkout.svg"
    result = CliRunner().invoke(
        main, ["dfd", str(EXAMPLE_MODELS / "checkout.yaml"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    svg = out.read_text(encoding="utf-8")
    images = re.findall(r'<image\b[^>]*\bxlink:href="([^"]*)"', svg)
    assert images and all(href.startswith("data:image/png;base64,") for href in images)
    uses = re.findall(r'<use\b[^>]*\bxlink:href="([^"]*)"', svg)
    assert uses and all(href.startswith("#tm-icon-") for href in uses)
    assert re.findall(r'\b(?:xlink:)?href="(?!data:|#)', svg) == []


def test_dfd_command_rejects_other_formats(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["dfd", str(EXAMPLE_MODELS / "checkout.yaml"), "-o", str(tmp_path / "x.gif")]
    )
    assert result.exit_code == 2
    assert "must end in .svg or .png" in result.stderr
