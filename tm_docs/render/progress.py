"""Progress bars for long commands on a terminal; nothing extra in CI logs and pipes.

tqdm draws the bars: it is small, has no dependencies of its own, writes to
standard error and redraws one line in place, which is all a command needs
here.  The bars show only tm-docs' own stage names and counts, never text from
a model, so there is nothing in them to escape.  When standard error is not a
terminal, or `CI` is set, no bar is drawn and the output stays the plain lines
the command prints anyway.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from tqdm import tqdm

from ..progress import Progress, no_progress

# Work shorter than this shows no bar at all (a bar that flashes is noise).
DELAY_SECONDS = 1.0


def wants_bars(stream: TextIO | None = None) -> bool:
    """Bars only on an interactive terminal and never in CI."""
    stream = stream or sys.stderr
    if os.environ.get("CI"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def terminal_progress(
    stream: TextIO | None = None, delay: float = DELAY_SECONDS
) -> Iterator[Progress]:
    """A `Progress` that draws one bar per stage on `stream` (standard error)."""
    stream = stream or sys.stderr
    if not wants_bars(stream):
        yield no_progress
        return
    bars: dict[str, Any] = {}

    def show(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bars.clear()
            bar = bars[stage] = tqdm(total=total, desc=stage, file=stream, leave=False, delay=delay)
        bar.update(done - bar.n)

    try:
        yield show
    finally:
        for bar in bars.values():
            bar.close()
