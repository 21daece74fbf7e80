"""Safe YAML reading that remembers where every value came from.

Model files are untrusted input: they arrive in pull requests.  So this module
- decodes UTF-8 strictly and refuses files over a size cap;
- builds only plain data (mappings, lists, text, numbers, booleans, null, dates):
  no object-construction tags, no `!!binary`, no custom tags;
- treats duplicate keys as errors (plain PyYAML silently keeps the last one);
- expands anchors/aliases under a node budget, so a "billion laughs" file
  stops with an error instead of eating memory;
- records the line and column of every key and value by its path in the data,
  so later checks can point at the exact spot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from ..problems import Problem, one_line
from .files import Refused, TooLarge, read_regular

MAX_FILE_BYTES = 1024 * 1024
MAX_NODES = 100_000
# Characters of text once every alias is expanded: a file that names one long text
# by an anchor and repeats it by alias thousands of times would otherwise make
# every later step (rendering, diagrams, search index) do that work thousands of times.
MAX_EXPANDED_CHARS = 2 * MAX_FILE_BYTES
MAX_INTEGER_BITS = 63  # YAML integers beyond a signed 64-bit value are not model data
MAX_DEPTH = 64

DataPath = tuple[str | int, ...]

_YAML = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_YAML}{t}" for t in ("null", "bool", "int", "float", "str", "timestamp")}
_MAP_TAG = f"{_YAML}map"
_SEQ_TAG = f"{_YAML}seq"
_MERGE_TAG = f"{_YAML}merge"
_TIMESTAMP_TAG = f"{_YAML}timestamp"
_STR_TAG = f"{_YAML}str"
# libyaml's parser is several times faster and reports the same marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Position(NamedTuple):
    """A line and column, counted from 1 (a tuple: one is made for every value read)."""

    line: int
    column: int


@dataclass
class SourceMap:
    """Positions of the keys and values of one document, by data path."""

    values: dict[DataPath, Position] = field(default_factory=dict)
    keys: dict[DataPath, Position] = field(default_factory=dict)

    def locate(self, path: DataPath, *, key: bool = False) -> Position:
        """The position of `path`, or of its nearest ancestor that has one."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return Position(1, 1)


class _LazySourceMap(SourceMap):
    """The positions of a document that was read without them: most files have no
    problem, so no message asks where anything is.  The first question reads the text
    again, recording every position (the same reading, so the same positions)."""

    def __init__(self, text: str, display: str) -> None:  # values, keys: on first use
        self._text = text
        self._display = display

    def __getattr__(self, name: str) -> Any:
        if name not in ("values", "keys"):
            raise AttributeError(name)
        builder = _Builder(self._display, positions=True)
        try:
            builder.build(next(iter(yaml.compose_all(self._text, Loader=_LOADER))), (), 0)
        except (_Stop, yaml.YAMLError, RecursionError, StopIteration):  # pragma: no cover
            pass  # read without error before; keep what was recorded
        self.values = builder.source.values
        self.keys = builder.source.keys
        del self._text
        return getattr(self, name)


def lazy_source(text: str, display: str) -> SourceMap:
    """The positions of a document that read without error, found when first asked."""
    return _LazySourceMap(text, display)


@dataclass
class Document:
    """The plain data of one YAML file and where each part of it came from."""

    data: Any
    source: SourceMap
    problems: list[Problem]


class _Stop(Exception):
    """Raised to abandon a document after a problem that makes the rest meaningless."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def read_document(path: Path, display: str) -> Document:
    """Read one YAML file into plain data; problems are returned, never raised."""
    try:
        raw = read_regular(path, MAX_FILE_BYTES)
    except TooLarge as large:
        return _failed(_too_big(display, large.size))
    except Refused as refused:
        return _failed(Problem(display, 1, 1, str(refused)))
    if len(raw) > MAX_FILE_BYTES:
        return _failed(_too_big(display, len(raw)))
    return decode_document(raw, display)


def decode_document(raw: bytes, display: str, reader: VersionReader | None = None) -> Document:
    """Parse the bytes of a model file: size cap, strict UTF-8, then YAML (`reader`: the
    reader of many versions of model files that this one is read by)."""
    if len(raw) > MAX_FILE_BYTES:
        return _failed(_too_big(display, len(raw)))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return _failed(
            Problem(
                display,
                line,
                column,
                f"the file is not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save it as UTF-8",
            )
        )
    return parse_document(text, display, reader)


def _too_big(display: str, size: int) -> Problem:
    return Problem(
        display,
        1,
        1,
        f"the file is {size:,} bytes; model files may be at most "
        f"{MAX_FILE_BYTES:,} bytes (split the system into several models)",
    )


# What YAML does not allow in a file (PyYAML's reader refuses the same set, but
# reports only the character's offset): C0 controls but tab and line breaks, DEL,
# C1 controls but NEL, surrogates and the two non-characters at the end of the BMP.
_UNPRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _character_name(char: str) -> str:
    names = {"\x00": "NUL", "\x1b": "ESC", "\x7f": "DEL"}
    return f"U+{ord(char):04X}" + (f" ({names[char]})" if char in names else "")


def parse_document(text: str, display: str, reader: VersionReader | None = None) -> Document:
    """Parse YAML text (one document) into plain data; positions are found when asked.
    With `reader`, the text is read key by key when it can be (`VersionReader`)."""
    bad = _UNPRINTABLE.search(text)
    if bad is not None:
        line, column = _position(text, bad.start())
        return _failed(
            Problem(
                display,
                line,
                column,
                f"the control character {_character_name(bad.group())} is not allowed in a "
                "YAML file; remove it (tabs and line breaks are fine)",
            )
        )
    if reader is not None:
        data = reader.read(text, display)
        if data is not None:
            return Document(data, _LazySourceMap(text, display), [])
    try:
        nodes = list(yaml.compose_all(text, Loader=_LOADER))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(part for part in (exc.context, exc.problem) if part)
        if mark and mark.index < len(text) and text[mark.index] == "\t":
            return _failed(
                Problem(
                    display,
                    line,
                    column,
                    "YAML syntax error: a tab character here; YAML indents with spaces only",
                )
            )
        return _failed(
            Problem(
                display,
                line,
                column,
                f"YAML syntax error: {what} (check the indentation and the ':' and '-' "
                "of this line and the one before)",
            )
        )
    except yaml.YAMLError as exc:
        position = getattr(exc, "position", None)  # a reader error names an offset only
        line, column = _position(text, position) if isinstance(position, int) else (1, 1)
        return _failed(Problem(display, line, column, f"YAML error: {one_line(str(exc))}"))
    except RecursionError:
        return _failed(Problem(display, 1, 1, "the YAML is nested too deeply"))

    if not nodes:
        return _failed(Problem(display, 1, 1, "the file is empty; a model is a YAML mapping"))
    if len(nodes) > 1:
        mark = nodes[1].start_mark
        return _failed(
            Problem(
                display,
                mark.line + 1,
                mark.column + 1,
                "a model file holds one YAML document; remove the '---' separator "
                "and put further models in files of their own",
            )
        )
    # Positions are recorded only when a message asks for one (`_LazySourceMap`).
    builder = _Builder(display, positions=False)
    try:
        data = builder.plain(nodes[0], 0)
    except _Stop as stop:
        return _failed(stop.problem, builder.problems)
    except RecursionError:  # pragma: no cover - the depth limit should come first
        return _failed(Problem(display, 1, 1, "the YAML is nested too deeply"), builder.problems)
    return Document(data, _LazySourceMap(text, display), builder.problems)


def _failed(problem: Problem, earlier: list[Problem] | None = None) -> Document:
    return Document(None, SourceMap(), [*(earlier or []), problem])


class _Builder:
    def __init__(self, display: str, *, positions: bool = True) -> None:
        self.display = display
        self.positions = positions  # record where each key and value is
        self.source = SourceMap()
        self.problems: list[Problem] = []
        self.nodes = 0
        self.characters = 0  # of text, counted each time an alias repeats it
        self._scalars = SafeConstructor()
        self._resolver = Resolver()
        self._open: set[int] = set()  # mappings being built, to catch self-merges

    def _problem(self, node: Node, message: str) -> Problem:
        return Problem(self.display, node.start_mark.line + 1, node.start_mark.column + 1, message)

    def build(self, node: Node, path: DataPath, depth: int) -> Any:
        if not isinstance(node, MappingNode):  # mappings count themselves in _mapping
            self._enter(node, depth)
        if self.positions:
            self.source.values.setdefault(
                path, Position(node.start_mark.line + 1, node.start_mark.column + 1)
            )
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if isinstance(node, SequenceNode):
            self._check_tag(node, {_SEQ_TAG})
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, MappingNode):
            self._check_tag(node, {_MAP_TAG})
            return self._mapping(node, path, depth)
        raise _Stop(self._problem(node, "unsupported YAML node"))  # pragma: no cover

    def plain(self, node: Node, depth: int) -> Any:
        """What `build` makes of a node when no positions are recorded, by the same checks
        in the same order (so the same first problem), without the data paths that only
        positions need: the common reading of a file."""
        if isinstance(node, ScalarNode):
            self._enter(node, depth)
            if node.tag != _STR_TAG:
                return self._scalar(node)
            self.characters += len(node.value)
            if self.characters > MAX_EXPANDED_CHARS:
                raise _Stop(self._too_long(node))
            return node.value
        if isinstance(node, SequenceNode):
            self._enter(node, depth)
            self._check_tag(node, {_SEQ_TAG})
            return [self.plain(item, depth + 1) for item in node.value]
        if isinstance(node, MappingNode):
            self._check_tag(node, {_MAP_TAG})
            self._enter(node, depth)
            self._open.add(id(node))
            try:
                return self._plain_items(node, depth)
            finally:
                self._open.discard(id(node))
        self._enter(node, depth)
        raise _Stop(self._problem(node, "unsupported YAML node"))  # pragma: no cover

    def _plain_items(self, node: MappingNode, depth: int) -> dict[str, Any]:
        """`_mapping_items` without positions."""
        merged: dict[str, Any] = {}
        explicit: dict[str, Any] = {}
        first_seen: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _STR_TAG and isinstance(key_node, ScalarNode):
                key = key_node.value  # nearly every key: text as written
            elif key_node.tag == _MERGE_TAG:
                for source in self._merge_sources(value_node, (), depth):
                    for merged_key, value in source.items():
                        merged.setdefault(merged_key, value)
                continue
            else:
                key = self._key(key_node)
            if key in first_seen:
                self.problems.append(self._duplicate(key_node, key, first_seen[key]))
                continue
            first_seen[key] = key_node
            explicit[key] = self.plain(value_node, depth + 1)
        if not merged:
            return explicit
        # Keys written in the mapping itself win over keys merged in with `<<`.
        return {**merged, **explicit}

    def _key(self, key_node: Node) -> str:
        """The text of a mapping key (a key YAML reads as a number or a date keeps the
        text as written)."""
        if not isinstance(key_node, ScalarNode) or key_node.tag not in _SCALAR_TAGS:
            raise _Stop(self._problem(key_node, "mapping keys must be plain text"))
        if key_node.tag == _STR_TAG:
            return str(key_node.value)
        try:
            key = self._scalars.construct_object(key_node)
        except Exception:
            key = key_node.value
        return key if isinstance(key, str) else str(key_node.value)

    def _duplicate(self, key_node: Node, key: str, first_node: Node) -> Problem:
        first = first_node.start_mark
        return self._problem(
            key_node,
            f"duplicate key '{key}' (first at line {first.line + 1}); YAML would "
            "keep only one of the values: remove or rename one of them",
        )

    def _too_long(self, node: Node) -> Problem:
        return self._problem(
            node,
            f"the document expands to more than {MAX_EXPANDED_CHARS:,} characters of "
            "text (a long text repeated by aliases?); write each text once",
        )

    def _check_tag(self, node: Node, allowed: set[str]) -> None:
        if node.tag not in allowed:
            tag = node.tag.replace(_YAML, "!!")
            raise _Stop(
                self._problem(
                    node,
                    f"the YAML tag '{tag}' is not allowed in model files; "
                    "only plain values, lists and mappings are",
                )
            )

    def _scalar(self, node: ScalarNode) -> Any:
        text = node.tag == _STR_TAG
        if not text:
            self._check_tag(node, _SCALAR_TAGS)
        self.characters += len(node.value)
        if self.characters > MAX_EXPANDED_CHARS:
            raise _Stop(self._too_long(node))
        if text:  # most values: the text as written, nothing to construct
            return node.value
        try:
            value = self._scalars.construct_object(node)
        except Exception:  # PyYAML raises several kinds for values it cannot read
            implicit = self._resolver.resolve(  # type: ignore[no-untyped-call]
                ScalarNode, node.value, (True, False)
            )
            if implicit == node.tag == _TIMESTAMP_TAG:
                # An impossible date such as 2026-13-01: keep the text as written,
                # so a text field stays intact and a date field reports it.
                return node.value
            tag = node.tag.replace(_YAML, "!!")
            shown = node.value if len(node.value) <= 40 else node.value[:40] + "..."
            raise _Stop(
                self._problem(node, f"'{shown}' cannot be read as {tag}; remove the tag")
            ) from None
        if isinstance(value, int) and not isinstance(value, bool):
            if value.bit_length() > MAX_INTEGER_BITS:
                raise _Stop(
                    self._problem(
                        node,
                        "the number is too large (YAML reads digits separated by ':' as one "
                        "base-60 number); put the value in quotes if it is text",
                    )
                )
        return value

    def _enter(self, node: Node, depth: int) -> None:
        """Count a node against the budget and the depth limit."""
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Stop(
                self._problem(
                    node,
                    f"the document expands to more than {MAX_NODES:,} values "
                    "(too many anchors/aliases?); write it out plainly",
                )
            )
        if depth > MAX_DEPTH:
            raise _Stop(
                self._problem(node, f"the YAML is nested more than {MAX_DEPTH} levels deep")
            )

    def _mapping(self, node: MappingNode, path: DataPath, depth: int) -> dict[str, Any]:
        self._enter(node, depth)  # merges reach here without `build`
        self._open.add(id(node))
        try:
            return self._mapping_items(node, path, depth)
        finally:
            self._open.discard(id(node))

    def _mapping_items(self, node: MappingNode, path: DataPath, depth: int) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        explicit: dict[str, Any] = {}
        first_seen: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                for source in self._merge_sources(value_node, path, depth):
                    for key, value in source.items():
                        merged.setdefault(key, value)
                continue
            key = self._key(key_node)
            if key in first_seen:
                self.problems.append(self._duplicate(key_node, key, first_seen[key]))
                continue
            first_seen[key] = key_node
            if self.positions:
                self.source.keys[(*path, key)] = Position(
                    key_node.start_mark.line + 1, key_node.start_mark.column + 1
                )
            explicit[key] = self.build(value_node, (*path, key), depth + 1)
        # Keys written in the mapping itself win over keys merged in with `<<`.
        return {**merged, **explicit}

    def _merge_sources(self, node: Node, path: DataPath, depth: int) -> list[dict[str, Any]]:
        candidates = node.value if isinstance(node, SequenceNode) else [node]
        sources = []
        for candidate in candidates:
            if not isinstance(candidate, MappingNode):
                raise _Stop(self._problem(candidate, "'<<' merges only mappings"))
            if id(candidate) in self._open:
                raise _Stop(
                    self._problem(node, "'<<' merges a mapping into itself; merge another anchor")
                )
            sources.append(self._mapping(candidate, path, depth + 1))
        return sources


# A line that starts in the first column, of a block mapping at the top level: a comment,
# an item of a list written in that column under the key above, or a key written plainly
# (letters, digits and '_', then ': ' or the line's end).  Any other such line (`---`,
# `...`, a directive, a quoted or complex key, a tab, text) and the text is read whole.
_FIRST_COLUMN = re.compile(
    r"^(?:(#)|(-(?: |$))|([A-Za-z_][A-Za-z0-9_]*):(?: |$)|(?=[^ \n]))", re.MULTILINE
)
# Line breaks that YAML reads and the cutting at "\n" would not see.
_OTHER_BREAKS = re.compile("[\r\x85\u2028\u2029]")
# What may be an anchor's name (`&name`; more than the anchors, never fewer: an anchor
# follows a space, a line's start or a flow indicator).  YAML allows each name once per
# document, so slices that could define the same one are not read apart.
_ANCHOR = re.compile(r"(?<![A-Za-z0-9])&([^\s\[\]{},]*)")


class _Slice(NamedTuple):
    value: Any
    nodes: int  # as `_Builder` counts them, the slice's own mapping included
    characters: int


class VersionReader:
    """Reads many versions of model files (the risk trend), each into the same plain data
    `parse_document` makes of it, reading again only the top-level keys whose text
    differs from the version read before it (in a model's history, most commits change a
    few keys: the title, a threat's rating).

    A document whose top level is a block mapping with plainly written keys in the first
    column is cut at those keys' lines; each slice (its key's line to the next key's,
    without the comment lines that end it) is a document of one key that YAML reads as
    it reads that part of the whole: a slice starts at a line's start outside any value,
    and every construct that could carry on over the next key's line (a quoted text, a
    flow collection) is unfinished at the slice's end, which is an error read alone.  A
    plain or block text ends at a line in the first column either way.  So each slice is
    read alone, with the same checks in the same order as the whole (`_Builder.plain`),
    the node and text budgets are checked on the sums, and no two slices may name the
    same anchor (an alias of another slice's anchor is an error read alone).  Anything else, and any
    problem (the first problem of the whole is what a gap names), and the text is read
    whole by `parse_document`, which finds that problem as always.  The reader keeps the
    slices of the last version only.
    """

    def __init__(self) -> None:
        self._last: dict[str, _Slice] = {}
        self.sliced = 0  # documents read by slices (for tests and benchmarks)
        self.slices_read = 0  # slices that were not the last version's

    def read(self, text: str, display: str) -> dict[str, Any] | None:
        """The data of `text` read by slices, or None: read it whole."""
        cut = _slices(text)
        if cut is None:
            return None
        known = self._last
        found: dict[str, _Slice] = {}
        data: dict[str, Any] = {}
        nodes = 1  # the top-level mapping
        characters = 0
        anchors: set[str] = set()
        for key, part in cut:
            if "&" in part:
                names = set(_ANCHOR.findall(part))
                if not anchors.isdisjoint(names):
                    return None
                anchors |= names
            piece = known.get(part) or found.get(part)
            if piece is None:
                piece = _read_slice(key, part, display)
                if piece is None:
                    return None
                self.slices_read += 1
            found[part] = piece
            data[key] = piece.value
            nodes += piece.nodes - 1
            characters += piece.characters
        if nodes > MAX_NODES or characters > MAX_EXPANDED_CHARS:
            return None  # read whole, to stop where the whole stops
        self._last = found
        self.sliced += 1
        return data


def _slices(text: str) -> list[tuple[str, str]] | None:
    """The keys of a top-level block mapping with the text of each (see `VersionReader`),
    in order, or None when the text is not one that is read by slices."""
    if _OTHER_BREAKS.search(text) is not None:
        return None
    cut: list[tuple[str, str]] = []
    keys: set[str] = set()
    key: str | None = None
    start = 0
    comments: int | None = None  # where the first-column comments ending a slice start
    for match in _FIRST_COLUMN.finditer(text):
        at = match.start()
        name = match.group(3)
        if name is not None:
            if key is None:
                if not _only_comments(text[:at]):
                    return None
            else:
                end = at if comments is None or not _only_comments(text[comments:at]) else comments
                cut.append((key, text[start:end]))
            if name in keys:
                return None  # a duplicate key: the whole reading says so
            keys.add(name)
            key, start, comments = name, at, None
        elif match.group(1) is not None:
            if comments is None:
                comments = at
        elif match.group(2) is not None and key is not None:
            comments = None
        else:
            return None
    if key is None:
        return None
    end = len(text)
    if comments is not None and _only_comments(text[comments:]):
        end = comments
    cut.append((key, text[start:end]))
    return cut


def _only_comments(text: str) -> bool:
    """Whether every line of `text` is empty, spaces, or a comment in the first column."""
    return all(not line.strip(" ") or line.startswith("#") for line in text.split("\n"))


def _read_slice(key: str, text: str, display: str) -> _Slice | None:
    """One slice read alone, or None when it does not read as a mapping of its one key
    without any problem."""
    builder = _Builder(display, positions=False)
    try:
        nodes = list(yaml.compose_all(text, Loader=_LOADER))
        if len(nodes) != 1:
            return None
        data = builder.plain(nodes[0], 0)
    except Exception:  # any error: the whole reading finds it and says what it is
        return None
    if builder.problems or not isinstance(data, dict) or len(data) != 1 or key not in data:
        return None
    return _Slice(data[key], builder.nodes, builder.characters)
