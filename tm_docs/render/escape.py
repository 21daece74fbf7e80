"""Making untrusted model text safe in generated Markdown and HTML.

Model files arrive in pull requests, so every value from them is hostile until
escaped.  Plain-text fields are written as numeric character references for
everything but letters, digits and spaces: that is inert both to Markdown (no
emphasis, links, tables or headings can start) and to HTML (no tags, no
attribute breaks), so one rule serves every place a template puts a value.

Markdown fields (descriptions) are rendered to HTML by a Markdown instance of
our own and then cleaned by an allow-list sanitizer: no raw HTML, no scripts,
no event handlers, only http(s) and mailto links.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from markupsafe import Markup, escape

from .terminal import one_line

if TYPE_CHECKING:
    import markdown

_ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "del",
    "ul", "ol", "li", "a", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
_URL_SCHEMES = {"http", "https", "mailto"}
_URL_SAFE = ":/?#@=&;+,~.-_%!$"


# Characters that Markdown or HTML would read as syntax anywhere in a line: written as
# character references, which every Markdown processor and every HTML context (text
# and attribute values) decodes back to the character.  Braces too, so template
# plugins (mkdocs-macros) find no {{ }} in model text; line breaks, so a value
# stays inside its table cell or list item.
_SYNTAX = {ch: f"&#{ord(ch)};" for ch in "&<>\"'`*_[]|~{}\\!$\n\r"}
_TRANSLATE = str.maketrans(_SYNTAX)
# ... and these only where a line (or a table cell, a list item) starts: headings,
# quotes, lists, setext underlines, tables.
_LINE_START = re.compile(r"^[#>+=:-]|^\d+[.)]")
# Most values (ids, names, dates) hold none of those: found with one search, per string.
_NEEDS_ESCAPE = re.compile("[" + re.escape("".join(_SYNTAX)) + "]")
_MAY_START_SYNTAX = frozenset("#>+=:-0123456789")


def plain(value: Any) -> Any:
    """Escape a plain-text value for any Markdown or HTML context.

    Exactly what would otherwise be read as Markdown or HTML is escaped; other
    punctuation (dates, paths, hyphens, dots) stays as written, so the Markdown
    reads well on any site generator.
    """
    if value is None or isinstance(value, Markup | bool | int | float):
        return value
    return Markup(_plain_text(str(value)))


def plain_html(value: Any) -> str:
    """`escape(plain(value))`, the text autoescape writes for a value, in one call: what
    a template's `{{ value }}` becomes (`pages._CodeGenerator`).  Strings and Markup, nearly
    every value of a page, take no detour through Markup objects."""
    if value.__class__ is str:
        return _plain_text(value)
    if value.__class__ is Markup:
        return value  # escape(Markup) is the same text
    return escape(plain(value))


def _plain_text(text: str) -> str:
    if _NEEDS_ESCAPE.search(text) is not None:
        text = text.translate(_TRANSLATE)
    stripped = text.lstrip(" ")
    match = _LINE_START.match(stripped) if stripped[:1] in _MAY_START_SYNTAX else None
    if match is not None:
        start = len(text) - len(text.lstrip(" ")) + match.end() - 1
        text = text[:start] + f"&#{ord(text[start])};" + text[start + 1 :]
    return text


# Kept as they are in text for Markdown outside the site: harmless anywhere in a line.
_MARKDOWN_KEEP = frozenset(" .,:/()'→")
# Written after characters that GitHub links or notifies from when they are
# followed by a name (mentions, issue references, e-mail and URL autolinks),
# even when the character itself is a character reference: a zero-width space.
_BREAK = "&#8203;"


def markdown_text(text: str) -> str:
    """Untrusted text for Markdown written outside the site (a PR comment, a report).

    The result is inert wherever a template puts it in a line: controls and
    other invisible characters become visible escapes first (as in the
    terminal), then everything but letters, digits, spaces and a few harmless
    marks becomes a character reference, so no emphasis, link, image, raw HTML,
    code fence, heading, list, table cell break or HTML comment end can start.
    '@' and '#' are followed by a zero-width space, so nobody is mentioned (and
    notified) and no issue is referenced; '://' and 'www.' are broken the same
    way, so no URL is linked.
    """
    out = []
    for ch in one_line(text):
        if ch.isalnum() or ch in _MARKDOWN_KEEP:
            out.append(ch)
        elif ch in "@#":
            out.append(ch + _BREAK)
        elif ch == "-" and out:  # not first: a leading '-' could start a list item
            out.append(ch)
        else:
            out.append(f"&#{ord(ch)};")
    result = "".join(out)
    if "://" in result or "www." in result.lower():
        result = _AUTOLINK.sub(lambda m: m.group(0)[:-1] + _BREAK + m.group(0)[-1], result)
    return result


_AUTOLINK = re.compile(r"://|(?i:www)\.")


@cache
def _converter() -> markdown.Markdown:
    """The one Markdown converter, made when the first text is rendered: a build whose pages
    all come from the cache renders none, and then neither loads the converter's extensions
    (Pygments among them) nor the sanitizer's library."""
    import markdown

    return markdown.Markdown(extensions=["tables", "fenced_code", "sane_lists"])


def _clean(html: str, **options: Any) -> str:
    import nh3

    return nh3.clean(html, **options)


def markdown_html(text: str) -> Markup:
    """Render an untrusted Markdown field to sanitized HTML."""
    return Markup(_rendered(text))


# A line of plain prose: an ASCII letter first, no space last, and nothing between that
# Markdown or HTML reads as syntax (no emphasis, code, link, entity, tag, table cell,
# escape or line break can start; a letter starts no block).  Most descriptions and
# titles are such lines; Python-Markdown and the sanitizer leave them as they are.
_PROSE_LINE = re.compile(r"[A-Za-z](?:[A-Za-z0-9 .,;:?()/'\"-]*[A-Za-z0-9.,;:?()/'\"-])?")


# The same with words in bold: `**word**` (letters and digits) at the start of the line or
# after a space, and before a space, the line's end or a punctuation mark.
_BOLD = r"\*\*[A-Za-z0-9]+\*\*(?=[ .,;:?]|$)"
_BOLD_LINE = re.compile(rf"(?:[A-Za-z]|{_BOLD})(?:[A-Za-z0-9 .,;:?()/'\"-]|(?<= ){_BOLD})*(?<! )")
_BOLD_WORD = re.compile(r"\*\*([A-Za-z0-9]+)\*\*")


def _prose_line(line: str) -> str | None:
    """The HTML of a line of plain prose, with its bold words; None for any other line."""
    if _PROSE_LINE.fullmatch(line) is not None:
        return line
    if "*" in line and _BOLD_LINE.fullmatch(line) is not None:
        return _BOLD_WORD.sub(r"<strong>\1</strong>", line)
    return None


def _prose_html(text: str) -> str | None:
    """What the converter and the sanitizer make of plain prose, without running them:
    paragraphs of prose lines, and lists of one-line items (`- ` and a prose line), between
    empty lines, with words in bold; None for any other text (a list right after another
    list is a loose list, with paragraphs in its items: left to the converter)."""
    blocks: list[str] = []
    lines: list[str] = []
    items = False  # whether `lines` are a list's items
    after_list = False  # whether the last block was a list
    for line in [*text.split("\n"), ""]:
        if not line:
            if lines:
                if items:
                    if after_list:
                        return None
                    blocks.append("<ul>\n<li>" + "</li>\n<li>".join(lines) + "</li>\n</ul>")
                else:
                    blocks.append("<p>" + "\n".join(lines) + "</p>")
                after_list = items
                lines = []
            continue
        item = line.startswith("- ")
        if lines and item != items:
            return None  # a list and a paragraph without an empty line between them
        html = _prose_line(line[2:] if item else line)
        if html is None:
            return None
        items = item
        lines.append(html)
    return "\n".join(blocks)


@lru_cache(maxsize=8192)
def _rendered(text: str) -> str:
    # A text repeated across pages or elements is rendered once; one converter,
    # reset between texts, is reused (building one costs more than most texts).
    if not text.strip():
        return ""
    prose = _prose_html(text)
    if prose is not None:
        return prose  # what the converter would make of it (tests/test_hostile_inputs.py)
    return _converted(text)


def _converted(text: str) -> str:
    """The converter's and the sanitizer's HTML of a Markdown field."""
    try:
        html = _converter().reset().convert(text)
    except RecursionError:
        # Absurdly deep nesting (e.g. thousands of "- " on one line): show the text as it is.
        return f"<p>{plain(text)}</p>"
    cleaned = _clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    # Keep the block together: a blank line would end the raw HTML block in
    # some Markdown processors and let the rest be read as Markdown again.
    # Braces become references too, so template plugins (e.g. mkdocs-macros)
    # find no {{ }} or {% %} in model text to evaluate.
    cleaned = re.sub(r"\n\s*\n", "\n", cleaned)
    return cleaned.replace("{", "&#123;").replace("}", "&#125;")


def safe_url(url: str) -> Markup | None:
    """A http(s) URL percent-encoded so it cannot break out of a link; None if not http(s)."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return None
    return Markup(quote(url, safe=_URL_SAFE))


_INLINE_TAGS = {"em", "strong", "code", "del", "a"}
_TAG_OR_ENTITY = re.compile(r"(<[^>]*>|&#?\w+;)")


def inline_html(text: str) -> Markup:
    """An untrusted one-line field (a title) with its inline Markdown rendered.

    Code, emphasis and links render; anything else (headings, lists, raw HTML)
    is reduced to its text by the same sanitizer as descriptions, with fewer
    tags allowed.  The text between the tags is then written as character
    references, as `plain` does, so the site's own Markdown pass finds nothing
    to interpret in it (no table cell break, no emphasis, no link).
    """
    return Markup(_inline(text))


@lru_cache(maxsize=8192)
def _inline(text: str) -> str:
    if not text.strip():
        return ""
    line = " ".join(text.split())
    if _PROSE_LINE.fullmatch(line) is not None:
        return str(plain(line))  # what the converter would leave of it, escaped
    return _inline_converted(text, line)


def _inline_converted(text: str, line: str) -> str:
    """The converter's inline HTML of a one-line field, its text escaped."""
    try:
        html = _converter().reset().convert(line)
    except RecursionError:
        return str(plain(text))
    cleaned = _clean(
        html,
        tags=_INLINE_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    ).strip()
    if not re.sub(r"<[^>]*>", "", cleaned).strip():
        # Nothing but markup the allow-list removes: show the text as it was written.
        return str(plain(text))
    out = []
    for part in _TAG_OR_ENTITY.split(cleaned):
        if not part:
            continue
        if part.startswith("<") or (part.startswith("&") and part.endswith(";")):
            out.append(part.replace("{", "&#123;").replace("}", "&#125;").replace("|", "&#124;"))
        else:
            out.append(str(plain(part)))
    return "".join(out)
