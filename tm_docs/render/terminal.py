"""The one escape for text tm-docs prints to a terminal or a CI log.

Values from pull requests (model text, file names, commit subjects and
authors) end up in lines that people read in terminals and that CI systems
scan for commands.  Two rules keep such a value from doing anything but being
read:

- No control character of the data reaches the output: C0 and C1 controls,
  DEL, Unicode format characters (bidi overrides and isolates, zero-width
  marks), line and paragraph separators and lone surrogates are written as
  visible escapes (``\\n``, ``\\x9b``, ``\\u202e``).  Without ESC and CSI no
  ANSI escape sequence can start, and without a line break no value can begin
  a line of its own.
- Markers that some CI systems obey anywhere in a line (``##vso[`` of Azure
  Pipelines, ``##[`` of GitHub and Azure logs) lose their first ``#``, which
  is written as ``\\x23``.

Every line the command line prints starts with tm-docs' own words, or with a
file path in the ``file:line:col: message`` convention; `line_start_path`
makes such a path unable to pass for anything else.
"""

from __future__ import annotations

import re
import unicodedata

# Categories of characters that are not text to be read: controls (Cc),
# format characters (Cf: bidi controls, zero-width marks, U+061C ...),
# surrogates (Cs) and the line and paragraph separators (Zl, Zp).
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CI_MARKER = re.compile(r"#(?=#(?:vso)?\[)", re.IGNORECASE)
# A path that starts a line must not start with what could be read as
# something else: a workflow command ('::'), a comment or heading ('#'),
# an option or list item ('-'), or nothing visible at all.
_RISKY_PATH_START = (":", "#", "-")


def _visible(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:
        # A byte that was not UTF-8, carried by Python's surrogate escape: show the byte.
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def is_hidden(ch: str) -> bool:
    """Whether a character is not shown as itself in tm-docs output."""
    return unicodedata.category(ch) in _HIDDEN_CATEGORIES


def one_line(text: str) -> str:
    """Data for a terminal or CI log: one line, no controls, no CI command markers."""
    if not (text.isascii() and text.isprintable()):
        text = "".join(_visible(ch) if is_hidden(ch) else ch for ch in text)
    if "##" in text:
        text = _CI_MARKER.sub(r"\\x23", text)
    return text


def line_start_path(path: str) -> str:
    """A file path (already `one_line`) for the start of a line: './' before a risky start."""
    if not path or path.startswith(_RISKY_PATH_START) or path[0].isspace():
        return "./" + path
    return path
