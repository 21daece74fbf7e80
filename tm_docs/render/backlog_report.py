"""The mitigation backlog as the command line prints it: terminal lines and Markdown.

The rows, their ranks and their order come from `exports.backlog_rows` (which
reads `Portfolio.backlog`), the same rows as the CSV, the JSON and the site.
"""

from __future__ import annotations

from typing import Any

from .escape import markdown_text
from .terminal import one_line

EMPTY = "The backlog is empty: every mitigation is done."


def _by_owner(rows: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    owners = list(dict.fromkeys(row["owner"] for row in rows))
    return [(owner, [r for r in rows if r["owner"] == owner]) for owner in owners]


def as_text(rows: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """(line, bold) pairs; every value through the terminal escape, our words first."""
    if not rows:
        return [(EMPTY, False)]
    lines: list[tuple[str, bool]] = []
    for owner, mine in _by_owner(rows):
        lines.append((f"owner: {one_line(owner)}", True))
        for row in mine:
            risk = f"{row['risk']:>2} {row['band'] or '-':<8}"
            plan = " ".join(p for p in (row["sprint"], row["ticket"]) if p)
            threats = ", ".join(t["id"] for t in row["threats"]) or "no open threat"
            line = (
                f"{row['mitigation']} {row['title']} "
                f"[{row['status'].replace('_', ' ')}] {plan} ({threats}; {row['model']})"
            )
            lines.append((f"  {row['rank']:>3}. {risk} {one_line(line)}", False))
        lines.append(("", False))
    return lines


def as_markdown(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return [EMPTY]
    lines = []
    for owner, mine in _by_owner(rows):
        lines += [
            f"## {markdown_text(owner)}",
            "",
            "| # | Risk | Mitigation | Status | Sprint | Ticket | Threats | Model |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in mine:
            cells = [
                str(row["rank"]),
                f"{row['risk']} {row['band'] or ''}".strip(),
                f"{row['mitigation']} {row['title']}",
                row["status"].replace("_", " "),
                row["sprint"] or "",
                row["ticket"] or "",
                ", ".join(t["id"] for t in row["threats"]),
                row["model"],
            ]
            lines.append("| " + " | ".join(markdown_text(c) for c in cells) + " |")
        lines.append("")
    return lines
