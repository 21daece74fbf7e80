"""The semantic diff as Markdown (for a pull-request comment), plain text and JSON."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..analysis.diff import ReviewResult
from .escape import markdown_text as _md
from .json_text import dumps
from .terminal import one_line


def headline(result: ReviewResult) -> list[str]:
    """The findings a reviewer must see first, one line each."""
    lines = []
    for diff in result.models:
        lines += [
            f"new open {r.band} risk in {diff.model_id}: {r}"
            for r in diff.risk_rises
            if r.band in ("high", "critical")
        ]
        lines += [f"weakened boundary-crossing flow in {diff.model_id}: {w}" for w in diff.weakened]
        lines += [f"new ingress point in {diff.model_id}: {i}" for i in diff.new_ingress]
        lines += [
            f"new suggested threat in {diff.model_id}: {key} (risk {risk})"
            for key, risk in diff.suggestion_risks.items()
            if risk >= result.headline_from
        ]
    for diff in result.models:
        if diff.status == "invalid":
            lines.append(f"{diff.model_id} no longer loads: fix {diff.old_path} (see the errors)")
    for model_id, files in sorted(result.stale.items()):
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        lines.append(f"this change makes {model_id} stale: it changes {shown} without updating it")
    return lines


def as_markdown(result: ReviewResult) -> str:
    out = [f"## Threat model review: {_md(result.base)} → {_md(result.head)}", ""]
    top = headline(result)
    if top:
        out += [f"- **{_md(line.split(':', 1)[0])}**:{_md(line.split(':', 1)[1])}" for line in top]
    else:
        out.append("No new high or critical risks, no weakened flows, no models made stale.")
    out.append("")
    changed = result.changed
    if not changed:
        out.append("The threat models are unchanged.")
        return "\n".join(out) + "\n"
    for diff in changed:
        summary = f"{_md(diff.title)} ({_md(diff.model_id)}): {diff.status}"
        out += ["<details>", f"<summary>{summary}</summary>", ""]
        if diff.old_path != diff.new_path and diff.old_path and diff.new_path:
            out.append(f"Moved from {_md(diff.old_path)} to {_md(diff.new_path)}.")
            out.append("")
        for change in diff.changes:
            line = f"- {change.action} {change.kind} **{_md(change.id)}** {_md(change.title)}"
            out.append(line)
            out += [f"  - {_md(d)}" for d in change.details]
        for label, items in (
            ("Open risks added or raised", [str(r) for r in diff.risk_rises]),
            ("New boundary crossings", diff.new_crossings),
            ("Suggested threats introduced", diff.suggestions_added),
            ("Suggested threats no longer raised", diff.suggestions_removed),
        ):
            if items:
                out += ["", f"{label}:", *[f"- {_md(i)}" for i in items]]
        out += ["", "</details>", ""]
    return "\n".join(out) + "\n"


def as_text(result: ReviewResult) -> str:
    out = [f"Threat model review: {result.base} -> {result.head}"]
    top = headline(result)
    out += [f"! {line}" for line in top] or [
        "no new high/critical risks, weakened flows or stale models"
    ]
    for diff in result.changed:
        out.append(f"{diff.model_id}: {diff.status}")
        for change in diff.changes:
            out.append(f"  {change.action} {change.kind} {change.id} ({change.title})")
            out += [f"      {d}" for d in change.details]
        out += [f"  risk up {r}" for r in diff.risk_rises]
        out += [f"  new crossing {c}" for c in diff.new_crossings]
        out += [f"  suggested threat introduced {s}" for s in diff.suggestions_added]
        out += [f"  suggested threat no longer raised {s}" for s in diff.suggestions_removed]
    # Each line starts with our words; the values in it (titles, ids, field
    # values, paths, revisions) go through the terminal escape with it.
    return "\n".join(one_line(line) for line in out) + "\n"


def as_json(result: ReviewResult) -> str:
    document: dict[str, Any] = {
        "base": result.base,
        "head": result.head,
        "headline": headline(result),
        "models": [asdict(m) for m in result.models if m.status != "unchanged"],
        "stale": result.stale,
        "problems": [str(p) for p in result.problems],
    }
    return dumps(document) + "\n"
