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
    pattern: str
    tokens: tuple[tuple[int, str], ...]
    plain: bool  # no wildcards: the path itself or anything below it

    def literal_prefix(self) -> str:
        """The part before the first wildcard: every matching path starts with it."""
        prefix = []
        for kind, char in self.tokens:
            if kind != _LITERAL:
                break
            prefix.append(char)
        return "".join(prefix)

    def match(self, path: str) -> bool:
        if len(path) > MAX_PATH:
            return False
        if self.plain:
            return path == self.pattern or path.startswith(self.pattern + "/")
        tokens = self.tokens
        end = len(tokens)
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
                kind, literal = tokens[index]
                if kind == _LITERAL:
                    if char == literal:
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
        while todo:
            state = todo.pop()
            if state < len(self.tokens) and self.tokens[state][0] in (_STAR, _ANY, _FOLDERS):
                if state + 1 not in result:
                    result.add(state + 1)
                    todo.append(state + 1)
        return result


@lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> Glob:
    cleaned = clean(pattern)
    tokens: list[tuple[int, str]] = []
    i = 0
    while i < len(cleaned):
        if cleaned.startswith("**/", i):
            tokens.append((_FOLDERS, ""))
            i += 3
        elif cleaned.startswith("**", i):
            tokens.append((_ANY, ""))
            i += 2
        elif cleaned[i] == "*":
            tokens.append((_STAR, ""))
            i += 1
        elif cleaned[i] == "?":
            tokens.append((_ONE, ""))
            i += 1
        else:
            tokens.append((_LITERAL, cleaned[i]))
            i += 1
    plain = all(kind == _LITERAL for kind, _ in tokens)
    return Glob(cleaned, tuple(tokens), plain)


def matches_any(path: str, patterns: Sequence[str]) -> bool:
    return any(compile_glob(p).match(path) for p in patterns)
