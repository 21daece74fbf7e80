"""The stale models as the command line prints them: terminal text, Markdown, JSON."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ..analysis.staleness import Staleness, State
from ..load.models import LoadedModel
from .escape import markdown_text
from .json_text import dumps
from .terminal import one_line

Verdicts = Sequence[tuple[LoadedModel, Staleness]]


def stale_count(verdicts: Verdicts) -> int:
    return sum(v.state is State.STALE for _, v in verdicts)


def summary(verdicts: Verdicts) -> str:
    """The closing line on standard error: how many of the models are stale."""
    count = stale_count(verdicts)
    return f"{count} stale model{'' if count == 1 else 's'} of {len(verdicts)}"


def day(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else ""


def as_text(verdicts: Verdicts) -> list[str]:
    lines = []
    for loaded, verdict in verdicts:
        # The reason may name files; authors, subjects and paths come from
        # commits, unchecked: all of it through the terminal escape.
        lines.append(one_line(f"{loaded.model.id}: {verdict.state.value} - {verdict.reason}"))
        for change in verdict.changes:
            c = change.commit
            files = ", ".join(change.files)
            lines.append(
                "    " + one_line(f"{c.short} {day(c.time)} {c.author}: {c.subject} ({files})")
            )
    return lines


def as_markdown(verdicts: Verdicts) -> list[str]:
    lines = [
        "| Model | State | Since | Commits since review | Last review |",
        "|---|---|---|---|---|",
    ]
    for loaded, verdict in verdicts:
        cells = [
            loaded.model.id,
            verdict.state.value,
            day(verdict.since) if verdict.state is State.STALE else "",
            str(len(verdict.changes)),
            day(verdict.review_time),
        ]
        lines.append("| " + " | ".join(markdown_text(c) for c in cells) + " |")
    return lines


def as_json(verdicts: Verdicts) -> str:
    stale = sum(v.state is State.STALE for _, v in verdicts)
    return dumps({"stale": stale, "models": [_model(m, v) for m, v in verdicts]})


def _model(loaded: LoadedModel, verdict: Staleness) -> dict[str, Any]:
    return {
        "id": loaded.model.id,
        "file": loaded.display_path,
        "state": verdict.state.value,
        "reason": verdict.reason,
        "since": verdict.since.isoformat() if verdict.since and verdict.changes else None,
        "review_time": verdict.review_time.isoformat() if verdict.review_time else None,
        "review_commit": verdict.review_commit.sha if verdict.review_commit else None,
        "too_old": verdict.too_old,
        "commits": [
            {
                "sha": ch.commit.sha,
                "date": ch.commit.time.isoformat(),
                "author": ch.commit.author,
                "subject": ch.commit.subject,
                "files": list(ch.files),
            }
            for ch in verdict.changes
        ],
    }
