"""What every importer needs: safe bounded reading, slugs, clean text, the loss report."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..load.files import Refused, TooLarge, read_regular
from ..load.yaml_source import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, decode_document
from ..model import ATTRIBUTE_KEY_PATTERN, MAX_ATTRIBUTES, MAX_TAGS, TAG_PATTERN

# Files of other tools hold diagrams and code snippets besides the model; they
# may be larger than a tm-docs model file, but not without bound.
MAX_IMPORT_BYTES = 4 * MAX_FILE_BYTES
MAX_TITLE = 200
MAX_TEXT = 20_000
MAX_VALUE = 2_000
REVIEW_KEY = "tm-docs.review"


class ImportFailure(Exception):
    """The file cannot be imported; the message names the file and what to do."""


# --- reading --------------------------------------------------------------


def read_bytes(path: Path, display: str) -> bytes:
    try:
        raw = read_regular(path, MAX_IMPORT_BYTES)
    except TooLarge as large:
        raise ImportFailure(
            f"{display}: the file has {large.size:,} bytes; tm-docs imports files of at most "
            f"{MAX_IMPORT_BYTES:,} bytes (split the model in the other tool first)"
        ) from None
    except Refused as refused:
        raise ImportFailure(f"{display}: {refused}") from None
    if len(raw) > MAX_IMPORT_BYTES:
        raise ImportFailure(f"{display}: the file is larger than {MAX_IMPORT_BYTES:,} bytes")
    return raw


def _check_shape(data: Any, display: str) -> None:
    """Refuse documents nested deeper or holding more values than a model can."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise ImportFailure(
                f"{display}: the document is nested more than {MAX_DEPTH} levels deep; "
                "no model needs that, so the file is refused"
            )
        if nodes > MAX_NODES * 4:
            raise ImportFailure(f"{display}: the document holds more values than tm-docs imports")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def read_json(path: Path, display: str) -> Any:
    raw = read_bytes(path, display)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFailure(
            f"{display}: not valid UTF-8 (at byte {exc.start}); save as UTF-8"
        ) from None
    if _too_deep(text):
        raise ImportFailure(
            f"{display}: the document is nested more than {MAX_DEPTH} levels deep; "
            "no model needs that, so the file is refused"
        )
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ImportFailure(
            f"{display}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ImportFailure(f"{display}: not valid JSON: {exc}") from None
    _check_shape(data, display)
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"'{name}' is not a JSON number")


def _too_deep(text: str) -> bool:
    """Bracket depth outside strings, counted before the parser recurses."""
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif char in "]}":
            depth -= 1
    return False


def read_yaml(path: Path, display: str) -> Any:
    raw = read_bytes(path, display)
    if len(raw) > MAX_FILE_BYTES:
        raise ImportFailure(
            f"{display}: YAML files of at most {MAX_FILE_BYTES:,} bytes are imported"
        )
    document = decode_document(raw, display)
    errors = [p for p in document.problems if p.severity.value == "error"]
    if errors:
        first = errors[0]
        raise ImportFailure(f"{first.file}:{first.line}:{first.column}: {first.message}")
    _check_shape(document.data, display)
    return document.data


def read_structured(path: Path, display: str) -> Any:
    """JSON or YAML by the file's suffix (JSON is also YAML, but reads faster as JSON)."""
    if path.suffix.lower() == ".json":
        return read_json(path, display)
    return read_yaml(path, display)


# --- values ---------------------------------------------------------------


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def one_line(value: Any, limit: int = MAX_TITLE) -> str:
    text = _BREAKS.sub(" ", as_text(value)).strip()
    return text[: limit - 1] + "…" if len(text) > limit else text


def text_block(value: Any) -> str:
    text = _CONTROL.sub("", as_text(value)).replace("\r\n", "\n").strip()
    return text[: MAX_TEXT - 1] + "…" if len(text) > MAX_TEXT else text


# Protocol names that say whether a channel is encrypted; others say nothing.
_ENCRYPTED_PROTOCOLS = {
    "https", "tls", "mtls", "ssl", "wss", "ssh", "sftp", "scp", "ftps", "ldaps", "smtps",
    "imaps", "pop3s", "amqps", "mqtts", "grpcs",
}  # fmt: skip
_PLAIN_PROTOCOLS = {"http", "ws", "ftp", "telnet", "ldap", "tftp", "amqp", "mqtt"}


def protocol_encryption(protocol: str) -> bool | None:
    """True or False when the protocol's name says whether it is encrypted, else None."""
    words = re.split(r"[\s/()+,]+", protocol.strip().lower())
    if any(w in _ENCRYPTED_PROTOCOLS for w in words) or "tls" in words:
        return True
    if len([w for w in words if w]) == 1 and words[0] in _PLAIN_PROTOCOLS:
        return False
    return None


_SLUG_CHARS = re.compile(r"[^A-Za-z0-9_-]+")


def slug(value: str, lower: bool = False) -> str:
    text = _SLUG_CHARS.sub("-", value.lower() if lower else value).strip("-_")
    return text[:64].strip("-_") or "x"


class Ids:
    """Unique slug ids across every collection of one model."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self.by_source: dict[tuple[str, str], str] = {}

    def make(self, namespace: str, original: str, fallback: str) -> str:
        base = slug(original or fallback)
        candidate, n = base, 2
        while candidate in self.taken:
            suffix = f"-{n}"
            candidate = base[: 64 - len(suffix)] + suffix
            n += 1
        self.taken.add(candidate)
        self.by_source[(namespace, original)] = candidate
        return candidate

    def get(self, namespace: str, original: str) -> str | None:
        return self.by_source.get((namespace, original))

    def of(self, namespace: str, original: str) -> str:
        """The id made earlier for `original` (which must exist)."""
        return self.by_source[(namespace, original)]


# --- the loss report ------------------------------------------------------


@dataclass(frozen=True)
class Note:
    kind: str  # "lossy" (no place for it) or "invented" (tm-docs needed a value)
    element: str  # the source element, as the other tool names it
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.element}: {self.message}"


@dataclass
class Lossy:
    """What an import could not keep or had to make up, by source element."""

    source_format: str
    notes: list[Note] = field(default_factory=list)
    imported: dict[str, int] = field(default_factory=dict)

    def lossy(self, element: str, message: str) -> None:
        self.notes.append(Note("lossy", element, message))

    def invented(self, element: str, message: str) -> None:
        self.notes.append(Note("invented", element, message))

    def count(self, collection: str) -> None:
        self.imported[collection] = self.imported.get(collection, 0) + 1

    def of(self, kind: str) -> list[Note]:
        return [n for n in self.notes if n.kind == kind]

    def __iter__(self) -> Iterator[Note]:
        return iter(self.notes)


# --- building elements ----------------------------------------------------


class Element:
    """A tm-docs element being built, as a dict in the format's key order."""

    def __init__(self, report: Lossy, source_name: str, namespace: str) -> None:
        self.report = report
        self.source = source_name
        self.namespace = namespace
        self.data: dict[str, Any] = {}
        self.tags: list[str] = []
        self.attributes: dict[str, str] = {}
        self.review: list[str] = []

    def set(self, key: str, value: Any) -> None:
        if value not in (None, "", [], {}):
            self.data[key] = value

    def keep_rest(self, raw: dict[str, Any], mapped: Collection[str]) -> None:
        """Keep every set value of `raw` that no field took (`mapped`) as an attribute.

        Unset flags (`false`, empty) are not kept: the formats write them for
        everything nobody set.
        """
        for key, value in raw.items():
            if as_text(key) not in mapped and value not in (None, False, "", [], {}):
                self.keep(as_text(key), value)

    def set_id(self, new_id: str, original: str) -> None:
        """Set the tm-docs id, keeping the source's own id when the two differ."""
        self.set("id", new_id)
        if new_id != original:
            self.keep("id", original)

    def keep(self, key: str, value: Any) -> None:
        """Keep a value without a field of its own as attribute `<namespace>.<key>`."""
        if value in (None, "", [], {}):
            return
        if isinstance(value, (dict, list)):
            text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
        else:
            text = as_text(value)
        name = f"{self.namespace}.{key}" if not key.startswith(f"{self.namespace}.") else key
        if not re.match(ATTRIBUTE_KEY_PATTERN, name):
            name = f"{self.namespace}." + slug(key)[:64]
        clean = one_line(text, MAX_VALUE)
        if clean != text:
            self.report.lossy(self.source, f"{name}: line breaks or length changed to fit")
        if len(self.attributes) >= MAX_ATTRIBUTES - 1 and name not in self.attributes:
            self.report.lossy(self.source, f"{name} = {clean[:60]}: no room for more attributes")
            return
        self.attributes[name] = clean

    def lossy(self, message: str) -> None:
        self.report.lossy(self.source, message)

    def invent(self, message: str) -> None:
        self.report.invented(self.source, message)
        self.review.append(message)

    def tag(self, value: Any) -> None:
        raw = as_text(value).strip()
        if not raw:
            return
        word = raw if re.match(TAG_PATTERN, raw) else slug(raw)[:40]
        if word != raw:
            self.report.lossy(self.source, f"tag '{one_line(raw, 60)}' written as '{word}'")
        if len(self.tags) >= MAX_TAGS:
            self.report.lossy(self.source, f"tag '{word}': no room for more than {MAX_TAGS} tags")
        elif word not in self.tags:
            self.tags.append(word)

    def build(self) -> dict[str, Any]:
        out = dict(self.data)
        if self.tags:
            out["tags"] = self.tags
        attributes = dict(self.attributes)
        if self.review:
            attributes[REVIEW_KEY] = one_line("; ".join(self.review), MAX_VALUE)
        if attributes:
            out["attributes"] = attributes
        return out
