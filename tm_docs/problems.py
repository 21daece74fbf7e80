"""Problems found in model files, and how they are shown to people."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .render.terminal import line_start_path, one_line

__all__ = ["Problem", "Severity", "did_you_mean", "display_path", "one_line", "sort_problems"]


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in one file, at one place (1-based line and column)."""

    file: str
    line: int
    column: int
    message: str
    severity: Severity = Severity.ERROR

    def __post_init__(self) -> None:
        # Messages quote model text; a newline in it must not start a new output
        # line (CI systems read some lines as commands), nor may other controls
        # reach a terminal: both are kept as visible escapes (render/terminal.py).
        object.__setattr__(self, "message", one_line(self.message))
        object.__setattr__(self, "file", one_line(self.file))

    def __str__(self) -> str:
        prefix = "" if self.severity is Severity.ERROR else "warning: "
        # The path starts the line: it must not pass for a command or an option.
        file = line_start_path(self.file)
        return f"{file}:{self.line}:{self.column}: {prefix}{self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def as_row(self) -> list[str | int]:
        """The problem as a JSON row (a cache entry); `from_row` reads it back."""
        return [self.file, self.line, self.column, self.message, self.severity.value]

    @classmethod
    def from_row(cls, row: object) -> Problem:
        """The problem of an `as_row` row; TypeError or ValueError when it is not one."""
        if not isinstance(row, list) or len(row) != 5:
            raise TypeError("not a problem")
        file, line, column, message, severity = row
        if not (isinstance(file, str) and isinstance(message, str)):
            raise TypeError("not a problem")
        if type(line) is not int or type(column) is not int:
            raise TypeError("not a position")
        return cls(file, line, column, message, Severity(severity))


def display_path(path: Path) -> str:
    """A path as people should see it: relative to the working directory if inside it.

    The name is printable, valid UTF-8 text in every output (text, JSON,
    annotations, the site): bytes of a file name that are not UTF-8 are shown
    as escapes ('caf\\xff.yaml').
    """
    # Without resolving links: a linked folder is shown where it is, not where it points.
    try:
        shown = Path(os.path.abspath(path)).relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        shown = path.as_posix()
    return printable_name(shown)


def printable_name(name: str) -> str:
    """A name from the file system with the bytes that are not UTF-8 written as escapes."""
    try:
        raw = os.fsencode(name)
    except UnicodeError:  # a lone surrogate that no byte produced
        raw = name.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "backslashreplace")


# Above this many candidates a hint is not worth its cost (difflib compares each).
MAX_HINT_CANDIDATES = 400


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """' (did you mean 'x'?)' for the closest candidate, or '' if none is close."""
    pool = list(candidates)
    if len(pool) > MAX_HINT_CANDIDATES or len(word) > 100:
        return ""
    matches = difflib.get_close_matches(word, pool, n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ""


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    return sorted(set(problems), key=lambda p: (p.file, p.line, p.column, p.message))
