"""How long work tells the face how far it is: a callback, so the library prints nothing.

`Progress` is called with a stage name (a fixed text of tm-docs, never model
text), the number of items done and the number in all.  The command line shows
it as a progress bar on a terminal (`render/progress.py`); everything else
passes `no_progress`.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, stage: str, done: int, total: int) -> None: ...


def no_progress(stage: str, done: int, total: int) -> None:
    """Progress nobody watches."""
