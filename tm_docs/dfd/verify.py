"""A strict check that an SVG file holds nothing but a drawing, before it is published.

A data-flow diagram is published as a file of its own and opened by readers'
browsers, so anything active in it (scripts, event handlers, links to other
sites, style sheets, embedded HTML) would run with the site's origin.  Both
what Graphviz has just drawn and what the diagram cache hands back go through
`check_svg`; only the elements and references Graphviz and the icon embedding
of `svg.py` produce are accepted, everything else is refused.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import cast
from xml.etree import ElementTree

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"

# The elements of a Graphviz drawing with embedded icons.
ALLOWED_ELEMENTS = frozenset(
    {
        "svg",
        "g",
        "title",
        "desc",
        "defs",
        "symbol",
        "use",
        "image",
        "a",
        "path",
        "polygon",
        "polyline",
        "ellipse",
        "circle",
        "rect",
        "line",
        "text",
        "tspan",
    }
)

# The XML declaration is all that may come before the drawing (no DOCTYPE, no
# entities, no processing instructions such as xml-stylesheet).
_DECLARATION = re.compile(
    r'<\?xml version="1\.[01]"(?: encoding="[Uu][Tt][Ff]-8")?'
    r'(?: standalone="(?:yes|no)")?\s*\?>'
)
_MARKUP_DECLARATION = re.compile(r"<!(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_LOCAL_REFERENCE = re.compile(r"#[A-Za-z_][A-Za-z0-9_.-]*")
_EMBEDDED_IMAGE = re.compile(r"data:image/(?:png|jpeg);base64,[A-Za-z0-9+/]+={0,2}")
# A link to an anchor of a page of the same site: "./#component-x",
# "index.html#flow-f1", "../checkout/#x" or "#x".  No scheme, no host.
_PAGE_ANCHOR = re.compile(r"(?:\.{1,2}/)*(?:[A-Za-z0-9_-]+/)*(?:index\.html)?#[A-Za-z0-9_.-]+")
_URL_FUNCTION = re.compile(r"url\s*\(", re.IGNORECASE)
_LOCAL_URL = re.compile(r"url\(#[A-Za-z_][A-Za-z0-9_.-]*\)")
_ACTIVE_TEXT = re.compile(r"javascript:|vbscript:|expression\s*\(|@import|\\|behavior\s*:", re.I)


class UnsafeSvg(ValueError):
    """The SVG holds something a published diagram must not; the message says what."""


# An icon file of the site, beside the diagrams: "../icons/<16 hex digits>.webp" (or
# .png or .jpg: the icon's own file, see site_icons.published_as_webp).
SITE_ICON = re.compile(r"\.\./icons/[0-9a-f]{16}\.(?:webp|png|jpg)")


def check_svg(data: bytes, icons: Collection[str] = ()) -> None:
    """Raise `UnsafeSvg` unless `data` is a well-formed SVG drawing with nothing active in it.

    `icons`: the site's own icon files a diagram may refer to (each a relative URL
    of the form of `SITE_ICON`, from an icon symbol); no other file may be named.
    """
    for icon in icons:
        if not SITE_ICON.fullmatch(icon):
            raise ValueError(f"not a site icon file: {icon!r}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafeSvg("it is not UTF-8 text") from None
    if text.startswith("<?xml"):
        declaration = _DECLARATION.match(text)
        if declaration is None:
            raise UnsafeSvg("its XML declaration is not the plain UTF-8 one")
        rest = text[declaration.end() :]
    else:
        rest = text
    if _MARKUP_DECLARATION.search(text):
        raise UnsafeSvg("it has a DOCTYPE or entity declaration")
    if "<?" in rest:
        raise UnsafeSvg("it has a processing instruction")
    parser: ElementTree.XMLPullParser[ElementTree.Element]
    parser = ElementTree.XMLPullParser(events=("start", "end"))
    stack: list[str] = []
    try:
        parser.feed(data)
        parser.close()
        for item in parser.read_events():
            event, element = cast("tuple[str, ElementTree.Element]", item)
            if event == "end":
                stack.pop()
                continue
            name = _element_name(element.tag, root=not stack)
            _check_attributes(name, element.attrib, stack, icons)
            stack.append(name)
    except ElementTree.ParseError as exc:
        raise UnsafeSvg(f"it is not well-formed XML ({exc})") from None


def _element_name(tag: str, *, root: bool) -> str:
    namespace, _, name = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    if namespace != SVG_NS:
        raise UnsafeSvg(f"element <{name}> is not an SVG element")
    if root and name != "svg":
        raise UnsafeSvg(f"the document is a <{name}>, not an <svg>")
    if name not in ALLOWED_ELEMENTS:
        raise UnsafeSvg(f"element <{name}> is not allowed in a diagram")
    return name


def _check_attributes(
    element: str, attributes: dict[str, str], parents: list[str], icons: Collection[str]
) -> None:
    for qualified, value in attributes.items():
        namespace, _, name = (
            qualified[1:].partition("}") if qualified.startswith("{") else ("", "", qualified)
        )
        where = f"<{element}> attribute {name!r}"
        if not _ATTRIBUTE_NAME.fullmatch(name):
            raise UnsafeSvg(f"{where} has an unexpected name")
        if name.lower().startswith("on"):
            raise UnsafeSvg(f"{where} is an event handler")
        if namespace == XLINK_NS:
            if name not in ("href", "title"):
                raise UnsafeSvg(f"{where} is not allowed")
        elif namespace == XML_NS:
            if name not in ("space", "lang"):
                raise UnsafeSvg(f"{where} is not allowed")
        elif namespace:
            raise UnsafeSvg(f"{where} is in an unexpected namespace")
        if name == "href":
            _check_reference(element, value, parents, where, icons)
            continue
        if name == "title" and namespace == XLINK_NS:
            continue  # a tooltip: plain text
        if name.lower() in ("src", "xmlns", "xlink", "requiredextensions", "attributename"):
            raise UnsafeSvg(f"{where} is not allowed")
        if _ACTIVE_TEXT.search(value):
            raise UnsafeSvg(f"{where} has active content")
        # Only references to elements of this file, such as fill="url(#gradient)".
        if _URL_FUNCTION.search(_LOCAL_URL.sub("", value)):
            raise UnsafeSvg(f"{where} refers to something outside the file")


def _check_reference(
    element: str, value: str, parents: list[str], where: str, icons: Collection[str]
) -> None:
    if element == "use" and _LOCAL_REFERENCE.fullmatch(value):
        return
    if element == "image" and "symbol" in parents and _EMBEDDED_IMAGE.fullmatch(value):
        return
    if element == "image" and parents[-1:] == ["symbol"] and value in icons:
        return  # one of the site's icon files, named exactly
    if element == "a" and _PAGE_ANCHOR.fullmatch(value):
        return
    shown = value if len(value) <= 60 else value[:57] + "..."
    raise UnsafeSvg(f"{where} refers to {shown!r}, which a diagram must not")
