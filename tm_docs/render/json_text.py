"""JSON documents that are always valid UTF-8.

Text from git (commit subjects, authors, file names) and from the file system
may carry bytes that are not UTF-8; Python keeps them as lone surrogates,
which `json.dumps` would write out as they are and no UTF-8 encoder can
write.  Every string is cleaned first: such bytes become the escape text
'\\xNN', as in `display_path`.

JSON is read in terminals and CI logs too, so the characters the terminal
escape hides (C1 controls, DEL, bidi controls, separators) are written as
JSON escapes ('\\u009b'): the document holds the same text, and no raw
control reaches the screen.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..problems import printable_name
from .terminal import is_hidden

_SURROGATE = re.compile("[\ud800-\udfff]")
# json.dumps escapes C0 itself; of the rest, `is_hidden` decides (DEL and non-ASCII).
_RAW = re.compile(r"[^\x00-\x7e]")


def clean(value: Any) -> Any:
    """`value` (JSON data) with every string free of lone surrogates."""
    if isinstance(value, str):
        return printable_name(value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def dumps(document: Any) -> str:
    """`document` as indented JSON (no trailing newline), encodable as UTF-8."""
    text = json.dumps(clean(document), indent=2, ensure_ascii=False)
    return _RAW.sub(_json_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    ch = match.group(0)
    if not is_hidden(ch):
        return ch
    code = ord(ch)
    if code < 0x10000:
        return f"\\u{code:04x}"
    high, low = divmod(code - 0x10000, 0x400)  # a surrogate pair, as JSON writes it
    return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"
