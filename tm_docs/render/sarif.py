"""`tm-docs validate` and `tm-docs check` as SARIF 2.1.0, for code scanning.

One result per problem or finding, at its model file's line and column.  The
file is a URI relative to the checkout (`uriBaseId` %SRCROOT%), as the
working directory of a CI job is.

Each result carries a partial fingerprint made of what the finding is about
(its rule, model, element and a content key such as a suggestion key), never
of its line, so that code scanning recognises a finding again after an edit
above it moves it down the file.  The key `primaryLocationLineHash` is left to
the uploader, which computes it from the line's text.

Text from the models and rule files is untrusted.  Plain-text messages keep
'[', ']' and '\\' escaped (SARIF reads `[text](target)` in them as a link);
the Markdown help is escaped as for pull-request comments; and the JSON is
written by `json_text.dumps`, so no raw control character reaches a log.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .. import __version__
from ..analysis.report import CheckOutcome
from ..analysis.rules import Rule
from ..analysis.settings import Policy
from ..load.models import LoadResult
from ..problems import Problem
from .escape import markdown_text
from .json_text import dumps

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SOURCE_ROOT = "%SRCROOT%"
# The partial fingerprint tm-docs computes; the version changes only if its recipe does.
FINGERPRINT = "tmDocsFinding/v1"

MODEL_ERROR = "model-error"
MODEL_WARNING = "model-warning"
SUGGESTION_PREFIX = "suggested-threat/"

# Policy -> (title, what the finding means, what to do).
_POLICY_RULES: dict[Policy, tuple[str, str, str]] = {
    Policy.CRITICAL_UNPLANNED: (
        "Critical threat without planned mitigation",
        "An open threat in the critical band has no mitigation that is planned, in progress "
        "or done.",
        "Plan, start or finish a mitigation of the threat (status planned, in_progress or "
        "done), or lower its rating if it was overrated.",
    ),
    Policy.UNTRIAGED: (  # reported under the suggesting rule; this is the fallback
        "Suggested threat not triaged",
        "A suggested threat is neither accepted nor dismissed.",
        "Accept it as a threat (from_suggestion) or dismiss it with a reason.",
    ),
    Policy.COVERAGE: (
        "STRIDE category not analysed",
        "An element has an applicable STRIDE category that nobody analysed.",
        "Add a threat of that category for the element, or a not_applicable entry that "
        "says why the category does not apply.",
    ),
    Policy.STALE_DISMISSALS: (
        "Dismissal matches no suggestion",
        "A dismissal names a suggested threat that the rules no longer make.",
        "Remove the dismissal: the rule no longer suggests that threat for the element.",
    ),
}
_MODEL_RULES = {
    MODEL_ERROR: (
        "Invalid threat model",
        "The model file cannot be read as a tm-docs model.",
        "Fix the file at the line and column shown; the message says what is wrong and how "
        "to fix it.",
    ),
    MODEL_WARNING: (
        "Threat model warning",
        "The model file loads, but something in it is likely a mistake.",
        "Look at the line and column shown and change what the message names.",
    ),
}

_LINK_SYNTAX = re.compile(r"([\\\[\]])")
# A message may point at another line ("already used by the component at line 12").
_LINE_REFERENCE = re.compile(r"\bline [0-9]+")


def message_text(text: str) -> str:
    """Untrusted text for a SARIF plain-text message: brackets and backslashes escaped,
    so no part of it reads as an embedded link."""
    return _LINK_SYNTAX.sub(r"\\\1", text)


def fingerprint(*parts: str) -> str:
    """A stable hash of what a result is about (never of where it is)."""
    digest = hashlib.sha256("\0".join(parts).encode("utf-8", "backslashreplace"))
    return digest.hexdigest()[:32]


def artifact_uri(display_path: str, prefix: str = "") -> dict[str, str]:
    """The artifact location of a model file: relative to the checkout when it is.

    `prefix` is where the working directory lies in the repository ('sub/dir/').
    """
    if display_path.startswith("/"):
        return {"uri": "file://" + quote(display_path, safe="/")}
    path = posixpath.normpath(prefix + display_path)
    return {"uri": quote(path, safe="/"), "uriBaseId": SOURCE_ROOT}


@dataclass
class _Rules:
    """The rules a run reports, in order of first use, with their index."""

    descriptors: list[dict[str, Any]] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    cwe: set[int] = field(default_factory=set)
    capec: set[int] = field(default_factory=set)

    def use(self, rule_id: str, make: Any) -> int:
        if rule_id not in self.index:
            self.index[rule_id] = len(self.descriptors)
            self.descriptors.append(make())
        return self.index[rule_id]


def _descriptor(
    rule_id: str,
    title: str,
    description: str,
    help_text: str,
    tags: Sequence[str] = (),
    **properties: Any,
) -> dict[str, Any]:
    help_md = f"{markdown_text(description)}\n\n**What to do:** {markdown_text(help_text)}"
    return {
        "id": rule_id,
        "name": _pascal(rule_id),
        "shortDescription": {"text": message_text(title)},
        "fullDescription": {"text": message_text(description)},
        "help": {
            "text": message_text(f"{description} What to do: {help_text}"),
            "markdown": help_md,
        },
        "properties": {"tags": ["threat-model", *tags], **properties},
    }


def _pascal(rule_id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", rule_id))


def _suggestion_descriptor(rule: Rule, rules: _Rules) -> dict[str, Any]:
    rules.cwe.update(rule.cwe)
    rules.capec.update(rule.capec)
    tags = ["security", *(f"external/cwe/cwe-{n}" for n in rule.cwe)]
    tags += [f"external/capec/capec-{n}" for n in rule.capec]
    tags += rule.controls
    descriptor = _descriptor(
        SUGGESTION_PREFIX + rule.id,
        rule.title,
        rule.explanation,
        rule.mitigation,
        tags,
        # GitHub ranks security alerts by this 0-10 score: the rule's risk of 1-25.
        **{"security-severity": f"{rule.risk * 0.4:.1f}"},
        stride=[c.value for c in rule.categories],
    )
    relationships = [
        {"target": {"id": str(n), "toolComponent": {"name": taxonomy}}, "kinds": ["relevant"]}
        for taxonomy, numbers in (("CWE", rule.cwe), ("CAPEC", rule.capec))
        for n in numbers
    ]
    if relationships:
        descriptor["relationships"] = relationships
    return descriptor


def _result(
    rule_index: int,
    rule_id: str,
    level: str,
    problem: Problem,
    prints: Iterable[str],
    prefix: str,
    **properties: Any,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": rule_index,
        "level": level,
        "message": {"text": message_text(problem.message)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": artifact_uri(problem.file, prefix),
                    "region": {"startLine": problem.line, "startColumn": problem.column},
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT: fingerprint(rule_id, *prints)},
    }
    if properties:
        result["properties"] = properties
    return result


def _taxonomies(rules: _Rules) -> list[dict[str, Any]]:
    taxonomies = []
    for name, organization, numbers in (
        ("CWE", "MITRE", rules.cwe),
        ("CAPEC", "MITRE", rules.capec),
    ):
        if numbers:
            taxonomies.append(
                {
                    "name": name,
                    "organization": organization,
                    "taxa": [{"id": str(n)} for n in sorted(numbers)],
                }
            )
    return taxonomies


def _log(rules: _Rules, results: list[dict[str, Any]], command: str) -> str:
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "tm-docs",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": rules.descriptors,
            }
        },
        "automationDetails": {"id": f"tm-docs/{command}/"},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    taxonomies = _taxonomies(rules)
    if taxonomies:
        run["taxonomies"] = taxonomies
    return dumps({"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}) + "\n"


def validation_sarif(result: LoadResult, prefix: str = "") -> str:
    """Every problem of `tm-docs validate`, one result each."""
    return problems_sarif(result.problems, "validate", prefix)


def problems_sarif(problems: Iterable[Problem], command: str, prefix: str = "") -> str:
    """Problems of model or rule files, one result each (also what `check` reports
    when the models do not load)."""
    rules = _Rules()
    results = []
    for problem in problems:
        rule_id = MODEL_ERROR if problem.is_error else MODEL_WARNING
        title, description, help_text = _MODEL_RULES[rule_id]
        index = rules.use(
            rule_id, lambda r=rule_id, t=title, d=description, h=help_text: _descriptor(r, t, d, h)
        )
        level = "error" if problem.is_error else "warning"
        # No model id may be known for a file that does not load: the file and the
        # message (which names the element and the field) say what the problem is.
        # The file as written in the repository, so the same problem keeps its print
        # whichever folder the command ran in.
        file = artifact_uri(problem.file, prefix)["uri"]
        content = _LINE_REFERENCE.sub("line", problem.message)
        results.append(_result(index, rule_id, level, problem, (file, content), prefix))
    return _log(rules, results, command)


def check_sarif(outcome: CheckOutcome, prefix: str = "") -> str:
    """Every finding of `tm-docs check`: errors where the policy fails on them, else warnings."""
    rules = _Rules()
    results = []
    for finding in outcome.findings:
        if finding.rule is not None:
            rule = finding.rule
            rule_id = SUGGESTION_PREFIX + rule.id
            index = rules.use(rule_id, lambda r=rule: _suggestion_descriptor(r, rules))
        else:
            rule_id = finding.policy.value
            title, description, help_text = _POLICY_RULES[finding.policy]
            index = rules.use(
                rule_id,
                lambda r=rule_id, t=title, d=description, h=help_text: _descriptor(r, t, d, h),
            )
        level = "error" if outcome.fails(finding) else "warning"
        prints = (finding.model_id, finding.element_id, finding.key)
        results.append(
            _result(
                index,
                rule_id,
                level,
                finding.problem,
                prints,
                prefix,
                policy=finding.policy.value,
                model=finding.model_id,
            )
        )
    return _log(rules, results, "check")
