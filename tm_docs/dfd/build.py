"""Draw one model's data-flow diagram with `diagrams` and return its DOT source.

`diagrams` builds the Graphviz graph (clusters, nodes with icons, edges); its
own render step is skipped because it writes into the working directory and
opens a viewer.  Every text from the model goes into the graph as an HTML-like
label built here with all markup escaped, or as a quoted attribute with
Graphviz's escape characters removed, so no label can break the DOT or put
markup into the SVG.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from typing import Any, ClassVar

from diagrams import Cluster, Diagram, Edge, Node, setdiagram
from graphviz import nohtml

from ..analysis.risk import RiskBands, is_open
from ..analysis.topology import Topology
from ..model import AuthMethod, Boundary, Component, ComponentKind, Flow, ThreatModel, TrustLevel
from .icons import icon_for, icon_path
from .site_icons import site_icon_name

FONT = "Helvetica,Arial,sans-serif"

# Border and fill of a trust boundary by its trust level.
TRUST_STYLE: dict[TrustLevel, dict[str, str]] = {
    TrustLevel.UNTRUSTED: {"pencolor": "#C62828", "bgcolor": "#FDECEA", "style": "dashed,rounded"},
    TrustLevel.PARTNER: {"pencolor": "#EF6C00", "bgcolor": "#FFF3E0", "style": "dashed,rounded"},
    TrustLevel.DMZ: {"pencolor": "#B28704", "bgcolor": "#FFFDE7", "style": "rounded"},
    TrustLevel.INTERNAL: {"pencolor": "#2E7D32", "bgcolor": "#EDF7EE", "style": "rounded"},
    TrustLevel.RESTRICTED: {"pencolor": "#1565C0", "bgcolor": "#E8F1FC", "style": "rounded,bold"},
}

# Shape of a component without an icon, by kind.
KIND_STYLE: dict[ComponentKind, dict[str, str]] = {
    ComponentKind.EXTERNAL_ENTITY: {"shape": "box", "fillcolor": "#ECEFF1"},
    ComponentKind.PROCESS: {"shape": "ellipse", "fillcolor": "#FFFFFF"},
    ComponentKind.DATA_STORE: {"shape": "cylinder", "fillcolor": "#F3E5F5"},
    ComponentKind.QUEUE: {"shape": "cds", "fillcolor": "#E0F7FA"},
}

INGRESS_COLOR = "#C62828"
CROSSING_COLOR = "#1565C0"
PLAIN_COLOR = "#607D8B"
WARNING_COLOR = "#B71C1C"
RISK_COLORS = {"critical": "#B71C1C", "high": "#E65100"}
ICON_SIZE = 44  # points


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def html_text(text: str, width: int = 0) -> str:
    """Text for a Graphviz HTML-like label: markup escaped, optionally wrapped."""
    lines = _CONTROL.sub("", text).splitlines() or [""]
    if width and any(len(line) > width for line in lines):
        lines = [part for line in lines for part in (textwrap.wrap(line, width) or [""])]
    escaped = [
        line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
        for line in lines
    ]
    return "<BR/>".join(escaped)


def quoted(text: str) -> Any:
    """Text for a quoted attribute (tooltips): no Graphviz escapes, never HTML."""
    flat = " ".join(_CONTROL.sub("", text).replace("\\", "/").split())
    return nohtml(flat)


@dataclass(frozen=True)
class DrawnDiagram:
    """The DOT source of one diagram and the icon files it shows."""

    source: str
    icons: tuple[str, ...] = field(default_factory=tuple)

    def icon_files(self) -> dict[str, str]:
        """The icon files it shows, by their name in a site's icon folder."""
        return {site_icon_name(path): path for path in self.icons}


class _Edge(Edge):  # type: ignore[misc]
    """An edge without `diagrams`' per-edge font defaults (the graph sets them once)."""

    _default_edge_attrs: ClassVar[dict[str, str]] = {}


class _Unrendered(Diagram):  # type: ignore[misc]
    """A `diagrams` Diagram that only builds the graph: no files, no viewer."""

    def __exit__(self, *exc: object) -> None:
        setdiagram(None)


def draw(
    model: ThreatModel,
    bands: RiskBands | None = None,
    *,
    link_base: str = "",
    highlight: dict[str, str] | None = None,
) -> DrawnDiagram:
    """The data-flow diagram of `model` as DOT source.

    `link_base` prefixes the links from components and flows to their anchors
    (e.g. "../checkout/" or ""); `highlight` maps element ids to a colour for
    diagrams that mark changes.
    """
    bands = bands or RiskBands()
    topology = Topology(model)
    highlight = highlight or {}
    icons: list[str] = []
    nodes: dict[str, Node] = {}
    risks = _open_risks(model)

    graph_attr = {
        "pad": "0.3",
        "nodesep": "0.5",
        "ranksep": "0.9",
        "splines": "spline",
        "fontname": FONT,
        "fontsize": "12",
        "label": "",
        "newrank": "true",
    }
    # Attributes shared by all nodes and edges are set once here: every
    # attribute written per node or edge costs quoting time in the graphviz library.
    node_attr = {
        "fontname": FONT,
        "fontsize": "11",
        "fontcolor": "#263238",
        "target": "_top",
        "fixedsize": "false",
        "width": "1.3",
        "height": "0.6",
        "margin": "0.15,0.08",
        "labelloc": "c",
        "color": "#37474F",
        "style": "filled",
        "fillcolor": "transparent",
    }
    edge_attr = {
        "fontname": FONT,
        "fontsize": "11",
        "fontcolor": "#37474F",
        "color": PLAIN_COLOR,
        "penwidth": "1.2",
        "arrowsize": "0.8",
        "target": "_top",
    }
    with _Unrendered(
        name=model.id,
        filename="unused",
        direction="TB",  # top to bottom: traffic enters at the top; fits a page column
        show=False,
        graph_attr=graph_attr,
        node_attr=node_attr,
        edge_attr=edge_attr,
    ) as diagram:
        children: dict[str | None, list[Boundary]] = {}
        for boundary in model.boundaries:
            children.setdefault(boundary.parent, []).append(boundary)
        members: dict[str | None, list[Component]] = {}
        for component in model.components:
            members.setdefault(component.boundary, []).append(component)

        def place(boundary_id: str | None) -> None:
            for component in members.get(boundary_id, []):
                nodes[component.id] = _node(component, risks, bands, link_base, highlight, icons)
            for child in children.get(boundary_id, []):
                style = TRUST_STYLE[child.trust]
                label = (
                    f"<<B>{html_text(child.title, 40)}</B>"
                    f' <FONT POINT-SIZE="10">({child.trust.value})</FONT>>'
                )
                with Cluster(
                    child.id,
                    graph_attr={
                        **style,
                        "label": label,
                        "fontname": FONT,
                        "fontsize": "12",
                        "fontcolor": style["pencolor"],
                        "penwidth": "1.6",
                        "margin": "14",
                        "tooltip": quoted(f"Trust boundary: {child.title} ({child.trust.value})"),
                    },
                ):
                    place(child.id)

        place(None)
        for flow in model.flows:
            _edge(flow, topology, nodes, link_base, highlight)
    return DrawnDiagram(source=diagram.dot.source, icons=tuple(dict.fromkeys(icons)))


def _open_risks(model: ThreatModel) -> dict[str, int]:
    """Highest open risk of the threats that target each element."""
    risks: dict[str, int] = {}
    for threat in model.threats:
        if is_open(threat):
            for target in threat.targets:
                risks[target] = max(risks.get(target, 0), threat.risk)
    return risks


def _node(
    component: Component,
    risks: dict[str, int],
    bands: RiskBands,
    link_base: str,
    highlight: dict[str, str],
    icons: list[str],
) -> Node:
    icon = icon_for(component.technology)
    kind = component.kind.value.replace("_", " ")
    lines = [f"<B>{html_text(component.title, 22)}</B>"]
    detail = kind + (f" · {component.technology}" if component.technology else "")
    lines.append(f'<FONT POINT-SIZE="9" COLOR="#546E7A">{html_text(detail, 28)}</FONT>')
    risk = risks.get(component.id, 0)
    band = bands.band(risk) if risk else None
    attrs: dict[str, Any] = {
        "href": f"{link_base}#component-{component.id}",
        "tooltip": quoted(f"{component.title} ({kind})"),
    }
    if band is not None and band.name in RISK_COLORS:
        color = RISK_COLORS[band.name]
        lines.append(
            f'<FONT POINT-SIZE="9" COLOR="{color}">'
            f"<B>▲ open {band.name} risk {risk} (inherent)</B></FONT>"
        )
        attrs.update({"color": color, "penwidth": "3"})
    if component.id in highlight:
        attrs.update({"color": highlight[component.id], "penwidth": "4"})
    if icon is not None:
        # The icon goes into an HTML-like label, above the text, at a fixed size:
        # `diagrams`' own image attribute would scale the icon over the label.
        path = icon_path(icon)
        icons.append(path)
        rows = "".join(f"<TR><TD>{line}</TD></TR>" for line in lines)
        table = (
            '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            f'<TR><TD FIXEDSIZE="TRUE" WIDTH="{ICON_SIZE}" HEIGHT="{ICON_SIZE}">'
            f'<IMG SRC="{html_text(path)}" SCALE="TRUE"/></TD></TR>{rows}</TABLE>>'
        )
        if "color" in attrs:  # a marked component gets a frame in the risk colour
            attrs.update(shape="box", style="rounded")
        # `diagrams` sets its own image, shape and height for icon nodes; undo them.
        return icon(
            table,
            nodeid=f"c_{component.id}",
            image="",
            shape=attrs.pop("shape", "plain"),
            height="0",
            **attrs,
        )
    label = "<" + "<BR/>".join(lines) + ">"
    style = {**KIND_STYLE[component.kind]}
    if band is not None and band.name in RISK_COLORS:
        style["style"] = "filled,bold"
    return Node(label, nodeid=f"c_{component.id}", **style, **attrs)


def _edge(
    flow: Flow,
    topology: Topology,
    nodes: dict[str, Node],
    link_base: str,
    highlight: dict[str, str],
) -> None:
    crossing = topology.crosses_boundary(flow)
    ingress = topology.is_ingress(flow)
    head = f"<B>{html_text(flow.id)}</B>"
    if flow.protocol:
        head += f" {html_text(flow.protocol, 24)}"
    lines = [("▶ " if ingress else "") + head]
    if flow.data:
        lines.append(f'<FONT POINT-SIZE="9">{html_text(", ".join(flow.data), 30)}</FONT>')
    flags = []
    if crossing:
        auth = flow.authentication
        if auth is not None and auth.method is AuthMethod.NONE:
            flags.append("⚠ no auth")
        elif auth is None:
            flags.append("? auth")
        if flow.encrypted is False:
            flags.append("⚠ cleartext")
        elif flow.encrypted is None:
            flags.append("? encryption")
    if flags:
        lines.append(f'<FONT POINT-SIZE="9" COLOR="{WARNING_COLOR}">{" ".join(flags)}</FONT>')
    weak = any(f.startswith("⚠") for f in flags)
    attrs: dict[str, Any] = {
        "label": "<" + "<BR/>".join(lines) + ">",
        "href": f"{link_base}#flow-{flow.id}",
    }
    # The same tooltip on the line and on its label (Graphviz would show the label's markup).
    attrs["tooltip"] = attrs["labeltooltip"] = quoted(
        f"{flow.id}: {flow.title or flow.source + ' to ' + flow.destination}"
    )
    if ingress or crossing:
        color = INGRESS_COLOR if ingress else CROSSING_COLOR
        attrs.update(color=color, fontcolor=color, penwidth="2.6" if ingress else "2")
    if weak:
        attrs["style"] = "dashed"
    if flow.bidirectional:
        attrs["dir"] = "both"
    if flow.id in highlight:
        attrs.update({"color": highlight[flow.id], "penwidth": "3.5"})
    nodes[flow.source] >> _Edge(**attrs) >> nodes[flow.destination]
