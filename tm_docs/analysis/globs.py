"""Watch globs over repository paths, matched in linear time.

Globs come from model files, so from pull requests; a regular expression built
from them could be made to backtrack for minutes on one path.  This matcher runs
the glob as a small automaton instead: each character of a path moves a set of
at most 2 x len(glob) + 1 states, so matching costs at most len(path) x len(glob)
steps whatever the glob and the path hold (any byte, a newline included).

Syntax: `**` crosses folders (`**/` also matches no folder at all), `*` and `?`
stay within one folder, everything else is literal.  A glob without wildcards
also matches everything below it, so `services/orders` watches the whole folder.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

MAX_PATH = 1024  # longer paths are never architecture anyone watches

_LITERAL, _ONE, _STAR, _ANY, _FOLDERS = range(5)


def clean(pattern: str) -> str:
    """A glob relative to the repository root: no leading './' or '/', runs of '*' shortened."""
    pattern = pattern.strip().removeprefix("./").lstrip("/")
    pattern = re.sub(r"\*{3,}", "**", pattern)
    return pattern.rstrip("/") if pattern != "**" else pattern


@dataclass(frozen=True)
class Glob:
    """A compiled glob: token i is the kind `kinds[i]` and, for a literal, the character
    `chars[i]` (two flat strings, not an object per character: a build holds hundreds)."""

    pattern: str
    kinds: bytes
    chars: str
    plain: bool  # no wildcards: the path itself or anything below it

    @property
    def tokens(self) -> tuple[tuple[int, str], ...]:
        """The tokens as (kind, literal character or "") pairs."""
        if self.plain:
            return tuple((_LITERAL, char) for char in self.pattern)
        return tuple(
            (kind, char if kind == _LITERAL else "")
            for kind, char in zip(self.kinds, self.chars, strict=True)
        )

    def literal_prefix(self) -> str:
        """The part before the first wildcard: every matching path starts with it."""
        if self.plain:
            return self.pattern
        end = 0
        for kind in self.kinds:
            if kind != _LITERAL:
                break
            end += 1
        return self.chars[:end]

    def match(self, path: str) -> bool:
        if len(path) > MAX_PATH:
            return False
        if self.plain:
            return path == self.pattern or path.startswith(self.pattern + "/")
        kinds, chars = self.kinds, self.chars
        end = len(kinds)
        # A state is the index of the next token to match; a `**/` that has read part
        # of its text is the state -(index + 1): it may only be left after a '/'.
        states = self._closure({0})
        for char in path:
            moved: set[int] = set()
            for state in states:
                inside = state < 0
                index = -state - 1 if inside else state
                if index == end:
                    continue
                kind = kinds[index]
                if kind == _LITERAL:
                    if char == chars[index]:
                        moved.add(index + 1)
                elif kind == _ONE:
                    if char != "/":
                        moved.add(index + 1)
                elif kind == _STAR:
                    if char != "/":
                        moved.add(index)
                elif kind == _ANY:
                    moved.add(index)
                else:  # _FOLDERS: any text that ends with '/', then the rest of the glob
                    moved.add(-index - 1)
                    if char == "/":
                        moved.add(index + 1)
            if not moved:
                return False
            states = self._closure(moved)
        return end in states

    def _closure(self, states: set[int]) -> set[int]:
        """The states reachable without reading a character (wildcards matching nothing)."""
        result = set(states)
        todo = [s for s in states if s >= 0]
        kinds = self.kinds
        while todo:
            state = todo.pop()
            if state < len(kinds) and kinds[state] in (_STAR, _ANY, _FOLDERS):
                if state + 1 not in result:
                    result.add(state + 1)
                    todo.append(state + 1)
        return result


@lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> Glob:
    """The compiled glob; cached, for `mkdocs serve` rebuilds (a `mkdocs build` clears
    the cache when its analysis is done: `forget_globs`)."""
    cleaned = clean(pattern)
    kinds = bytearray()
    chars: list[str] = []
    i = 0
    while i < len(cleaned):
        if cleaned.startswith("**/", i):
            kind, i = _FOLDERS, i + 3
        elif cleaned.startswith("**", i):
            kind, i = _ANY, i + 2
        elif cleaned[i] == "*":
            kind, i = _STAR, i + 1
        elif cleaned[i] == "?":
            kind, i = _ONE, i + 1
        else:
            kind, i = _LITERAL, i + 1
        kinds.append(kind)
        chars.append(cleaned[i - 1] if kind == _LITERAL else "\0")
    plain = all(kind == _LITERAL for kind in kinds)
    if plain:  # matched as a string: no tokens kept
        return Glob(cleaned, b"", "", True)
    return Glob(cleaned, bytes(kinds), "".join(chars), False)


def forget_globs() -> None:
    """Drop the compiled globs (a build that will not match again needs none)."""
    compile_glob.cache_clear()


def matches_any(path: str, patterns: Sequence[str]) -> bool:
    return any(compile_glob(p).match(path) for p in patterns)
