"""The controls as the command line prints them: terminal lines and Markdown.

The rows come from `exports.control_rows` (which reads `Report.controls`), the
same rows as the CSV, the JSON and the site's Controls page.
"""

from __future__ import annotations

from typing import Any

from .escape import markdown_text
from .terminal import one_line

EMPTY = "No mitigation names a control: add 'controls' to the mitigations that implement one."


def _threats(use: dict[str, Any]) -> str:
    return ", ".join(t["id"] for t in use["threats"]) or "no threat"


def as_text(frameworks: list[dict[str, Any]]) -> list[tuple[str, bool]]:
    """(line, bold) pairs; every value through the terminal escape."""
    if not frameworks:
        return [(EMPTY, False)]
    lines: list[tuple[str, bool]] = []
    for framework in frameworks:
        lines.append((one_line(f"{framework['name']} ({framework['framework']})"), True))
        for control in framework["controls"]:
            lines.append((f"  {one_line(control['id'])}", False))
            for use in control["mitigations"]:
                line = (
                    f"{use['mitigation']} {use['title']} [{use['status'].replace('_', ' ')}] "
                    f"({use['model']}; threats: {_threats(use)})"
                )
                lines.append((f"    {one_line(line)}", False))
        lines.append(("", False))
    return lines


def as_markdown(frameworks: list[dict[str, Any]]) -> list[str]:
    if not frameworks:
        return [EMPTY]
    lines = []
    for framework in frameworks:
        lines += [
            f"## {markdown_text(framework['name'])}",
            "",
            "| Control | Mitigation | Status | Model | Threats |",
            "|---|---|---|---|---|",
        ]
        for control in framework["controls"]:
            for use in control["mitigations"]:
                cells = [
                    control["id"],
                    f"{use['mitigation']} {use['title']}",
                    use["status"].replace("_", " "),
                    use["model"],
                    _threats(use),
                ]
                lines.append("| " + " | ".join(markdown_text(c) for c in cells) + " |")
        lines.append("")
    return lines
