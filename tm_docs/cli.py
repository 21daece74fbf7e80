"""The `tm-docs` command line.

Exit codes: 0 success, 1 the models have errors (or `check` found what its
policy fails on), 2 a usage error, 3 an internal error (a bug of tm-docs).

Commands read the tm-docs options of `mkdocs.yml` in the working directory
(or the file given with --config-file), so they use the same models folder,
risk bands, STRIDE chart and rules as the site.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from . import __version__
from .analysis.report import Report, analyse
from .analysis.rules import load_rules
from .analysis.staleness import Staleness, State, staleness
from .config import ConfigError, settings_from_file, site_path
from .dfd.build import draw
from .dfd.graphviz import GraphvizError
from .dfd.render import DiagramRenderer, render_png
from .gitcmd import GitError, RevisionError
from .history import Unavailable, read_history
from .interop.common import ImportFailure
from .interop.run import IMPORTERS, export_text, import_model, report_lines
from .interop.writer import write_new
from .loader import LoadedModel, LoadResult, ModelPathError, load_models
from .problems import Problem, Severity, display_path
from .render.escape import markdown_text as _md
from .render.exports import backlog_csv, backlog_json, backlog_rows
from .render.github import annotation
from .render.json_text import dumps
from .render.pages import SiteLayout, render_site
from .render.review_report import as_json, as_markdown, as_text
from .render.terminal import one_line
from .review import ReviewResult, review, snapshot_at, snapshot_worktree
from .schema import json_schema_text
from .settings import Policy, Settings

EXIT_OK = 0
EXIT_INVALID = 1  # usage errors exit 2 through click
DEFAULT_CONFIG = Path("mkdocs.yml")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _settings(config_file: Path | None) -> Settings:
    if config_file is None and DEFAULT_CONFIG.is_file():
        config_file = DEFAULT_CONFIG
    try:
        return settings_from_file(config_file)
    except ConfigError as exc:
        raise _usage_error(exc) from None


def _load_or_exit(paths: Sequence[Path], settings: Settings) -> LoadResult:
    targets = list(paths) or [settings.models_dir]
    # Paths typed on the command line are the user's choice; the configured folder
    # comes from mkdocs.yml, which a pull request can change, so it must stay inside.
    try:
        result = load_models(targets, root=None if paths else settings.root)
    except ModelPathError as exc:
        raise _usage_error(exc) from None
    if not result.files and not result.problems:
        where = ", ".join(display_path(p) for p in targets)
        raise click.UsageError(f"no model files (*.yaml, *.yml) found in {where}")
    return result


def _usage_error(exc: Exception) -> click.UsageError:
    # Messages may quote configuration, paths or revisions: one line, no controls.
    return click.UsageError(one_line(str(exc)))


def _show(problem: Problem, output_format: str, title: str) -> str:
    return annotation(problem, title=title) if output_format == "github" else str(problem)


def _valid_or_exit(result: LoadResult, output_format: str = "text", command: str = "") -> None:
    if not result.ok:
        for problem in result.problems:
            click.echo(_show(problem, output_format, f"tm-docs {command}".strip()))
        click.echo(f"{_plural(len(result.errors), 'error')} in the models", err=True)
        sys.exit(EXIT_INVALID)


def _report(
    paths: Sequence[Path], config_file: Path | None, output_format: str = "text", command: str = ""
) -> Report:
    settings = _settings(config_file)
    result = _load_or_exit(paths, settings)
    _valid_or_exit(result, output_format, command)
    rules = load_rules(settings.rule_dirs, root=settings.root)
    if rules.problems:
        for problem in rules.problems:
            click.echo(_show(problem, output_format, f"tm-docs {command}".strip()))
        click.echo("problems in the threat rules", err=True)
        sys.exit(EXIT_INVALID)
    return analyse(result.models, settings, rules)


config_option = click.option(
    "-f",
    "--config-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="mkdocs.yml whose tm-docs options to use (default: ./mkdocs.yml if there is one).",
)
paths_argument = click.argument("paths", nargs=-1, type=click.Path(path_type=Path))


def format_option(
    *choices: str, help: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The --format option of a command; the first choice is the default."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(choices),
        default=choices[0],
        show_default=True,
        help=help,
    )


EXIT_INTERNAL = 3


class _Commands(click.Group):
    """The command group; an unexpected failure is one line, not a traceback.

    Input mistakes are reported as problems long before this; what reaches it is a
    bug of tm-docs, said plainly (TM_DOCS_DEBUG=1 shows the traceback).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("TM_DOCS_DEBUG"):
                raise
            click.echo(
                f"tm-docs: internal error ({type(exc).__name__}: {one_line(str(exc))[:300]}); "
                "this is a bug in tm-docs, please report it (TM_DOCS_DEBUG=1 shows the details)",
                err=True,
            )
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tm-docs")
def main() -> None:
    """Threat models as code: validate them and publish them as a site."""


@main.command()
@paths_argument
@config_option
@format_option(
    "text",
    "json",
    "github",
    help="text for people, json for tools, github for annotations in GitHub Actions.",
)
def validate(paths: tuple[Path, ...], config_file: Path | None, output_format: str) -> None:
    """Check model files and report every problem with its file, line and column.

    PATHS are model files or folders searched for *.yaml and *.yml files
    (default: the models folder of mkdocs.yml, or ./models).
    """
    result = _load_or_exit(paths, _settings(config_file))
    errors = result.errors
    if output_format == "json":
        report = {
            "ok": result.ok,
            "files": [display_path(p) for p in result.files],
            "models": [
                {"id": m.model.id, "title": m.model.title, "file": m.display_path}
                for m in result.models
            ],
            "problems": [_problem_json(p) for p in result.problems],
        }
        click.echo(dumps(report))
    else:
        for problem in result.problems:
            click.echo(_show(problem, output_format, "tm-docs validate"))
        if errors:
            bad_files = len({p.file for p in errors})
            click.echo(
                f"{_plural(len(errors), 'error')} in {_plural(bad_files, 'file')} "
                f"({len(result.files)} checked)",
                err=True,
            )
        else:
            click.echo(f"{_plural(len(result.models), 'model')} OK")
    sys.exit(EXIT_OK if result.ok else EXIT_INVALID)


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "severity": problem.severity.value,
        "message": problem.message,
    }


@main.command()
@paths_argument
@config_option
@click.option(
    "--fail-on",
    "fail_on",
    multiple=True,
    type=click.Choice([p.value for p in Policy] + ["none"]),
    help="Fail on these findings (repeat the option); default: the check.fail_on option of "
    "mkdocs.yml, or critical-unplanned. 'none' never fails on findings.",
)
@format_option("text", "json", "github")
def check(
    paths: tuple[Path, ...], config_file: Path | None, fail_on: tuple[str, ...], output_format: str
) -> None:
    """Validate, then report STRIDE coverage and suggested threats; fail per policy.

    Findings of the policies in force are errors (exit 1); the other findings
    are listed as warnings.  Policies: critical-unplanned (an open critical
    threat has no mitigation planned, in progress or done), untriaged (a
    suggested threat is neither accepted nor dismissed), coverage (an applicable
    STRIDE category of an element is not analysed), stale-dismissals (a
    dismissal matches no suggestion).
    """
    report = _report(paths, config_file, output_format, "check")
    policies = (
        set()
        if "none" in fail_on
        else {Policy(p) for p in fail_on}
        if fail_on
        else set(report.settings.fail_on)
    )
    findings = report.findings()
    failing = [f for f in findings if f.policy in policies]
    if output_format == "json":
        document = {
            "ok": not failing,
            "fail_on": sorted(p.value for p in policies),
            "models": [
                {
                    "id": r.model.id,
                    "file": r.loaded.display_path,
                    "coverage": r.coverage.percent,
                    "untriaged": [s.key for s in r.untriaged],
                }
                for r in report.models
            ],
            "findings": [
                {
                    **_problem_json(f.problem),
                    "severity": "error" if f.policy in policies else "warning",
                    "policy": f.policy.value,
                    "fails": f.policy in policies,
                }
                for f in findings
            ],
        }
        click.echo(dumps(document))
    else:
        for finding in findings:
            # A finding the policy fails on is an error; any other is a warning.
            severity = Severity.ERROR if finding.policy in policies else Severity.WARNING
            p = finding.problem
            problem = Problem(p.file, p.line, p.column, p.message, severity)
            policy = finding.policy.value
            if output_format == "github":
                click.echo(annotation(problem, title=f"tm-docs check: {policy}"))
            else:
                click.echo(f"{problem} [{policy}]")
        for r in report.models:
            click.echo(
                f"{r.model.id}: {r.coverage.percent}% STRIDE coverage, "
                f"{_plural(len(r.untriaged), 'untriaged suggestion')}",
                err=True,
            )
        verdict = "FAIL" if failing else "OK"
        policy_text = ", ".join(sorted(p.value for p in policies)) or "none"
        click.echo(
            f"{verdict}: {_plural(len(failing), 'finding')} that fail the check "
            f"(fail on: {policy_text}); {len(findings) - len(failing)} more as warnings",
            err=True,
        )
    sys.exit(EXIT_INVALID if failing else EXIT_OK)


@main.command()
@click.argument("base")
@click.argument("head", required=False)
@config_option
@format_option(
    "text",
    "markdown",
    "json",
    help="text for the terminal, markdown for a pull-request comment or job summary, json.",
)
@click.option(
    "--fail-on",
    "fail_on",
    type=click.Choice(["critical", "high", "medium", "low", "none"]),
    default="none",
    show_default=True,
    help="Exit 1 when the change adds or raises an open threat, or introduces a suggested "
    "threat, in this band or above, or weakens a boundary-crossing flow.",
)
@click.option(
    "--diagrams",
    "diagrams_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write before/after data-flow diagrams of each changed model here (added elements "
    "green, removed red).",
)
def diff(
    base: str,
    head: str | None,
    config_file: Path | None,
    output_format: str,
    fail_on: str,
    diagrams_dir: Path | None,
) -> None:
    """What a change does to the threat models, from BASE to HEAD (default: the work tree).

    A semantic diff read from git objects: models, elements and threats added,
    removed or changed field by field, weakened boundary-crossing flows, new
    ingress points, risk changes, suggested threats introduced, and models the
    change makes stale by touching their architecture without updating them.
    """
    settings = _settings(config_file)
    rules = load_rules(settings.rule_dirs, root=settings.root)
    if rules.problems:
        # The same rules as `check`: a broken rule file fails the review as it fails the check.
        for problem in rules.problems:
            click.echo(str(problem))
        click.echo("problems in the threat rules", err=True)
        sys.exit(EXIT_INVALID)
    try:
        result = review(
            settings.models_dir,
            settings.models_dir,
            base,
            head,
            settings.bands,
            rules.rules,
            root=settings.root,
        )
    except RevisionError as exc:
        raise _usage_error(exc) from None
    except GitError as exc:
        raise click.ClickException(one_line(f"git failed: {exc}")) from None
    # Problems of the new revision: the change breaks a model, which fails the diff.
    for problem in result.problems:
        click.echo(str(problem), err=True)
    render = {"markdown": as_markdown, "json": as_json}.get(output_format, as_text)
    click.echo(render(result), nl=False)
    if diagrams_dir is not None:
        _diff_diagrams(result, settings, diagrams_dir, base, head)
    failing = _diff_fails(result, fail_on, settings)
    broken = any(p.is_error for p in result.problems)
    sys.exit(EXIT_INVALID if failing or broken else EXIT_OK)


ADDED_COLOR = "#2E7D32"
REMOVED_COLOR = "#C62828"


def _diff_diagrams(
    result: ReviewResult, settings: Settings, folder: Path, base: str, head: str | None
) -> None:
    before = snapshot_at(settings.models_dir, settings.models_dir, base)
    after = (
        snapshot_at(settings.models_dir, settings.models_dir, head)
        if head
        else snapshot_worktree(settings.models_dir, settings.root)
    )
    folder.mkdir(parents=True, exist_ok=True)
    renderer = DiagramRenderer()
    for model_diff in result.changed:
        added = {c.id: ADDED_COLOR for c in model_diff.changes if c.action == "added"}
        removed = {c.id: REMOVED_COLOR for c in model_diff.changes if c.action == "removed"}
        for label, snapshot, marks in (("before", before, removed), ("after", after, added)):
            entry = snapshot.models.get(model_diff.model_id)
            if entry is None:
                continue
            drawn = draw(entry[0], settings.bands, highlight=marks)
            try:
                svg = renderer.render(drawn)
            except GraphvizError as exc:
                raise click.ClickException(str(exc)) from None
            (folder / f"{model_diff.model_id}-{label}.svg").write_bytes(svg)
    click.echo(f"wrote diagrams to {folder}", err=True)


def _diff_fails(result: ReviewResult, fail_on: str, settings: Settings) -> bool:
    if fail_on == "none":
        return False
    threshold = settings.bands.named(fail_on).low
    for model_diff in result.models:
        if model_diff.weakened:
            return True
        if any(rise.risk >= threshold for rise in model_diff.risk_rises):
            return True
        if any(risk >= threshold for risk in model_diff.suggestion_risks.values()):
            return True
    return False


@main.command()
@paths_argument
@config_option
@format_option("table", "markdown", "json")
@click.option(
    "--max-age",
    "max_age",
    type=click.IntRange(min=1),
    help="Also stale: not reviewed for more than this many days (default: max_age_days of "
    "mkdocs.yml, or off).",
)
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Ignore architecture commits before this day (YYYY-MM-DD), e.g. when adopting tm-docs.",
)
def stale(
    paths: tuple[Path, ...],
    config_file: Path | None,
    output_format: str,
    max_age: int | None,
    since: dt.datetime | None,
) -> None:
    """List models whose architecture changed in git after their last review.

    Exits 1 when any model is stale, so CI can ask for a review.  When git
    history is not available (a shallow clone, no repository), says how to get
    it and exits 0 with every model unknown.
    """
    settings = _settings(config_file)
    result = _load_or_exit(paths, settings)
    _valid_or_exit(result)
    targets = list(paths) or [settings.models_dir]
    history = read_history(targets[0] if targets[0].is_dir() else targets[0].parent)
    if isinstance(history, Unavailable):
        click.echo(f"warning: {one_line(history.reason)}", err=True)
    since_utc = since.replace(tzinfo=dt.timezone.utc) if since else None
    verdicts = [
        (
            m,
            staleness(m, history, max_age_days=max_age or settings.max_age_days, since=since_utc),
        )
        for m in result.models
    ]
    # Most behind first: stale before unknown before fresh, oldest unreviewed change first.
    order = {State.STALE: 0, State.UNKNOWN: 1, State.FRESH: 2}
    far = dt.datetime.max.replace(tzinfo=dt.timezone.utc)
    verdicts.sort(key=lambda v: (order[v[1].state], v[1].since or far, v[0].model.id))
    stale_count = sum(v.state is State.STALE for _, v in verdicts)
    if output_format == "json":
        document = {
            "stale": stale_count,
            "models": [_staleness_json(m, v) for m, v in verdicts],
        }
        click.echo(dumps(document))
    elif output_format == "markdown":
        click.echo("| Model | State | Since | Commits since review | Last review |")
        click.echo("|---|---|---|---|---|")
        for loaded, verdict in verdicts:
            cells = [
                loaded.model.id,
                verdict.state.value,
                _day(verdict.since) if verdict.state is State.STALE else "",
                str(len(verdict.changes)),
                _day(verdict.review_time),
            ]
            click.echo("| " + " | ".join(_md(c) for c in cells) + " |")
    else:
        for loaded, verdict in verdicts:
            # The reason may name files; authors, subjects and paths come from
            # commits, unchecked: all of it through the terminal escape.
            click.echo(one_line(f"{loaded.model.id}: {verdict.state.value} - {verdict.reason}"))
            for change in verdict.changes:
                c = change.commit
                files = ", ".join(change.files)
                line = f"{c.short} {_day(c.time)} {c.author}: {c.subject} ({files})"
                click.echo(f"    {one_line(line)}")
        click.echo(f"{_plural(stale_count, 'stale model')} of {len(verdicts)}", err=True)
    sys.exit(EXIT_INVALID if stale_count else EXIT_OK)


def _day(moment: dt.datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else ""


def _staleness_json(loaded: LoadedModel, verdict: Staleness) -> dict[str, Any]:
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


@main.command()
@paths_argument
@config_option
@format_option(
    "table",
    "markdown",
    "csv",
    "json",
    help="table for the terminal, markdown for a page or PR comment, csv for a tracker, json.",
)
def backlog(paths: tuple[Path, ...], config_file: Path | None, output_format: str) -> None:
    """Print the prioritized mitigation backlog, grouped by owning service."""
    report = _report(paths, config_file)
    portfolio = report.portfolio
    if output_format == "csv":
        click.echo(backlog_csv(portfolio), nl=False)
        return
    if output_format == "json":
        click.echo(backlog_json(portfolio), nl=False)
        return
    rows = backlog_rows(portfolio)
    owners = list(dict.fromkeys(row["owner"] for row in rows))
    if not rows:
        click.echo("The backlog is empty: every mitigation is done.")
        return
    for owner in owners:
        mine = [row for row in rows if row["owner"] == owner]
        if output_format == "markdown":
            click.echo(f"## {_md(owner)}\n")
            click.echo("| # | Risk | Mitigation | Status | Sprint | Ticket | Threats | Model |")
            click.echo("|---|---|---|---|---|---|---|---|")
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
                click.echo("| " + " | ".join(_md(c) for c in cells) + " |")
            click.echo("")
        else:
            # Every value through the terminal escape, and our words first on each line.
            click.echo(click.style(f"owner: {one_line(owner)}", bold=True))
            for row in mine:
                risk = f"{row['risk']:>2} {row['band'] or '-':<8}"
                plan = " ".join(p for p in (row["sprint"], row["ticket"]) if p)
                threats = ", ".join(t["id"] for t in row["threats"]) or "no open threat"
                line = (
                    f"{row['mitigation']} {row['title']} "
                    f"[{row['status'].replace('_', ' ')}] {plan} ({threats}; {row['model']})"
                )
                click.echo(f"  {row['rank']:>3}. {risk} {one_line(line)}")
            click.echo("")


@main.command()
@paths_argument
@config_option
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the pages into (e.g. the docs folder of another site generator).",
)
@click.option(
    "--section",
    default="threat-models",
    show_default=True,
    help="Subfolder of OUTPUT that holds the pages.",
)
def pages(paths: tuple[Path, ...], config_file: Path | None, output: Path, section: str) -> None:
    """Write the threat-model pages as plain Markdown files, for any site generator.

    The same pages the MkDocs plugin adds to a site, plus the backlog as CSV and
    JSON. PATHS are model files or folders (default: the models folder).
    """
    report = _report(paths, config_file)
    stale = {}
    if report.settings.staleness:
        history = read_history(report.settings.models_dir)
        if isinstance(history, Unavailable):
            click.echo(f"warning: {one_line(history.reason)}", err=True)
        stale = {
            m.model.id: staleness(m.loaded, history, max_age_days=report.settings.max_age_days)
            for m in report.models
        }
    try:
        folder = site_path(section)
    except ConfigError as exc:
        raise click.UsageError(str(exc).replace("option 'path'", "--section")) from None
    generated = render_site(report, SiteLayout(root=folder), staleness=stale)
    for file in generated:
        target = output / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(file.content, bytes):
            target.write_bytes(file.content)
        else:
            target.write_text(file.content, encoding="utf-8")
    click.echo(f"wrote {len(generated)} files to {output / section}", err=True)


@main.command()
@click.argument("model_file", type=click.Path(dir_okay=False, path_type=Path))
@config_option
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write; its suffix (.svg or .png) picks the format.",
)
def dfd(model_file: Path, config_file: Path | None, output: Path) -> None:
    """Draw the data-flow diagram of one model as SVG or PNG.

    The SVG stands alone (icons embedded); its components and flows link to
    anchors of the model's page on the site.
    """
    suffix = output.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise click.UsageError(f"{output}: the output file must end in .svg or .png")
    settings = _settings(config_file)
    result = _load_or_exit((model_file,), settings)
    _valid_or_exit(result)
    (loaded,) = result.models
    drawn = draw(loaded.model, settings.bands)
    try:
        data = DiagramRenderer().render(drawn) if suffix == ".svg" else render_png(drawn)
    except GraphvizError as exc:
        raise click.ClickException(str(exc)) from None
    output.write_bytes(data)
    click.echo(f"wrote {output}", err=True)


@main.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the schema to this file instead of standard output.",
)
def schema(output: Path | None) -> None:
    """Print the JSON Schema of the model format (for editors and other tools)."""
    text = json_schema_text()
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from None
        click.echo(f"wrote {output}", err=True)


@main.command("import")
@click.argument("source_format", type=click.Choice(sorted(IMPORTERS)))
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Model file to write (default: standard output).")  # fmt: skip
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
def import_(source_format: str, source: Path, output: Path | None, force: bool) -> None:
    """Turn another tool's model into a tm-docs model, reporting what did not fit."""
    try:
        _, text, report = import_model(source_format, source)
        if output is not None:
            write_new(output, text, force)
    except ImportFailure as exc:
        raise click.ClickException(str(exc)) from None
    if output is None:
        click.echo(text, nl=False)
    for line in report_lines(report):
        click.echo(line, err=True)
    if output is not None:
        click.echo(f"wrote {output}", err=True)


@main.command("export")
@click.argument("target_format", type=click.Choice(["otm"]))
@click.argument("model_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: standard output).")  # fmt: skip
@click.option("--format", "output_format", type=click.Choice(["json", "yaml"]), default="json")
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
def export(
    target_format: str, model_file: Path, output: Path | None, output_format: str, force: bool
) -> None:
    """Write one model in another tool's format (OTM 0.2.0)."""
    try:
        text = export_text(model_file, output_format)
        if output is not None:
            write_new(output, text, force)
    except ImportFailure as exc:
        raise click.ClickException(str(exc)) from None
    if output is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"wrote {output}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
