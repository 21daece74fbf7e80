"""JSON documents that are always valid UTF-8.

Text from git (commit subjects, authors, file names) and from the file system
may carry bytes that are not UTF-8; Python keeps them as lone surrogates,
which `json.dumps` would write out as they are and no UTF-8 encoder can
write.  Every string is made printable-safe first: such bytes become the
escape text '\\xNN', as in `display_path`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..problems import printable_name

_SURROGATE = re.compile("[\ud800-\udfff]")


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
    return json.dumps(clean(document), indent=2, ensure_ascii=False)
