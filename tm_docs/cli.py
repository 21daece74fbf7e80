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
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from . import __version__
from .analysis.diff import fails
from .analysis.report import Report, analyse
from .analysis.report import check as run_check
from .analysis.settings import Policy, Settings
from .config import ConfigError, settings_from_file
from .dfd.build import draw
from .dfd.graphviz import GraphvizError
from .dfd.render import DiagramRenderer, render_png
from .interop.common import ImportFailure
from .interop.run import IMPORTERS, export_text, import_model, report_lines
from .interop.writer import write_new
from .load.git import GitError, RevisionError, prefix_in_repository
from .load.models import LoadResult, ModelPathError, load_models
from .load.rules import load_rules
from .pipeline import BuildError, Pipeline, SiteBuild, review, review_diagrams
from .problems import Problem, display_path
from .progress import Progress, no_progress
from .render import backlog_report, check_report, controls_report, stale_report, trend_report
from .render.check_report import plural
from .render.exports import (
    backlog_csv,
    backlog_json,
    backlog_rows,
    control_rows,
    controls_csv,
    controls_json,
)
from .render.progress import terminal_progress
from .render.review_report import as_json, as_markdown, as_text
from .render.sarif import check_sarif, problems_sarif, validation_sarif
from .render.site_files import write_site
from .render.terminal import one_line
from .schema import json_schema_text

EXIT_OK = 0
EXIT_INVALID = 1  # usage errors exit 2 through click
DEFAULT_CONFIG = Path("mkdocs.yml")


def _settings(config_file: Path | None) -> Settings:
    if config_file is None and DEFAULT_CONFIG.is_file():
        config_file = DEFAULT_CONFIG
    try:
        return settings_from_file(config_file)
    except ConfigError as exc:
        raise _usage_error(exc) from None


def _load_or_exit(
    paths: Sequence[Path], settings: Settings, progress: Progress = no_progress
) -> LoadResult:
    targets = list(paths) or [settings.models_dir]
    # Paths typed on the command line are the user's choice; the configured folder
    # comes from mkdocs.yml, which a pull request can change, so it must stay inside.
    try:
        result = load_models(targets, None if paths else settings.root, progress=progress)
    except ModelPathError as exc:
        raise _usage_error(exc) from None
    if not result.files and not result.problems:
        where = ", ".join(display_path(p) for p in targets)
        raise click.UsageError(f"no model files (*.yaml, *.yml) found in {where}")
    return result


def _usage_error(exc: Exception) -> click.UsageError:
    # Messages may quote configuration, paths or revisions: one line, no controls.
    return click.UsageError(one_line(str(exc)))


def _echo_styled(lines: Sequence[tuple[str, bool]]) -> None:
    """Terminal lines a formatter made, the headings (True) in bold."""
    for line, bold in lines:
        click.echo(click.style(line, bold=True) if bold else line)


def _print(printed: check_report.Printed) -> None:
    for line in printed.out:
        click.echo(line)
    for line in printed.err:
        click.echo(line, err=True)


def _show_all(problems: Sequence[Problem], output_format: str, command: str) -> None:
    if output_format == "sarif":  # one document on standard output, whatever failed
        click.echo(problems_sarif(problems, command, prefix_in_repository(Path.cwd())), nl=False)
        return
    for problem in problems:
        click.echo(check_report.problem_line(problem, output_format, command))


def _valid_or_exit(result: LoadResult, output_format: str = "text", command: str = "") -> None:
    if not result.ok:
        _show_all(result.problems, output_format, command)
        click.echo(f"{plural(len(result.errors), 'error')} in the models", err=True)
        sys.exit(EXIT_INVALID)


def _report(
    paths: Sequence[Path], config_file: Path | None, output_format: str = "text", command: str = ""
) -> Report:
    settings = _settings(config_file)
    with terminal_progress() as progress:
        result = _load_or_exit(paths, settings, progress)
    _valid_or_exit(result, output_format, command)
    rules = load_rules(settings.rule_dirs, root=settings.root)
    if rules.problems:
        _show_all(rules.problems, output_format, command)
        click.echo("problems in the threat rules", err=True)
        sys.exit(EXIT_INVALID)
    with terminal_progress() as progress:
        return analyse(result.models, settings, rules, progress=progress)


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
EXIT_BROKEN_PIPE = 141  # as a shell reports a program ended by SIGPIPE


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
        except BrokenPipeError:
            # The reader went away (`tm-docs stale | head`): stop quietly, as other tools do,
            # with stdout pointed at nothing so that closing it cannot fail again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(EXIT_BROKEN_PIPE)
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
    "sarif",
    help="text for people, json for tools, github for annotations in GitHub Actions, "
    "sarif (2.1.0) for code scanning.",
)
def validate(paths: tuple[Path, ...], config_file: Path | None, output_format: str) -> None:
    """Check model files and report every problem with its file, line and column.

    PATHS are model files or folders searched for *.yaml and *.yml files
    (default: the models folder of mkdocs.yml, or ./models).
    """
    result = _load_or_exit(paths, _settings(config_file))
    if output_format == "json":
        click.echo(check_report.validation_json(result))
    elif output_format == "sarif":
        click.echo(validation_sarif(result, prefix_in_repository(Path.cwd())), nl=False)
    else:
        _print(check_report.validation_lines(result, output_format))
    sys.exit(EXIT_OK if result.ok else EXIT_INVALID)


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
@format_option(
    "text",
    "json",
    "github",
    "sarif",
    help="text, json, github (annotations) or sarif (2.1.0, for code scanning).",
)
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
    outcome = run_check(_report(paths, config_file, output_format, "check"), fail_on)
    if output_format == "json":
        click.echo(check_report.check_json(outcome))
    elif output_format == "sarif":
        click.echo(check_sarif(outcome, prefix_in_repository(Path.cwd())), nl=False)
    else:
        _print(check_report.check_lines(outcome, output_format))
    sys.exit(EXIT_OK if outcome.ok else EXIT_INVALID)


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
    try:
        result = review(settings, base, head)
    except BuildError as exc:
        # The same rules as `check`: a broken rule file fails the review as it fails the check.
        for problem in exc.problems:
            click.echo(str(problem))
        click.echo(one_line(str(exc)), err=True)
        sys.exit(EXIT_INVALID)
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
        try:
            pictures = review_diagrams(result, settings)
        except GraphvizError as exc:
            raise click.ClickException(str(exc)) from None
        diagrams_dir.mkdir(parents=True, exist_ok=True)
        for name, svg in pictures.items():
            (diagrams_dir / name).write_bytes(svg)
        click.echo(f"wrote diagrams to {diagrams_dir}", err=True)
    failing = fails(result, fail_on, settings.bands)
    broken = any(p.is_error for p in result.problems)
    sys.exit(EXIT_INVALID if failing or broken else EXIT_OK)


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
    if max_age:
        settings = replace(settings, max_age_days=max_age)
    since_utc = since.replace(tzinfo=dt.timezone.utc) if since else None
    verdicts, warnings = Pipeline(settings).stale_models(result.models, since=since_utc)
    for warning in warnings:
        click.echo(f"warning: {one_line(warning)}", err=True)
    if output_format == "json":
        click.echo(stale_report.as_json(verdicts))
    else:
        lines = stale_report.as_markdown if output_format == "markdown" else stale_report.as_text
        click.echo("\n".join(lines(verdicts)))
        if output_format != "markdown":
            click.echo(stale_report.summary(verdicts), err=True)
    sys.exit(EXIT_INVALID if stale_report.stale_count(verdicts) else EXIT_OK)


@main.command()
@click.argument("models", nargs=-1)
@config_option
@format_option("table", "csv", "json")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only commits from this day on (YYYY-MM-DD).",
)
def trend(
    models: tuple[str, ...],
    config_file: Path | None,
    output_format: str,
    since: dt.datetime | None,
) -> None:
    """Show how each model's open risk moved: one row per commit that changed its file.

    MODELS are model ids or model files (default: every model).  When git
    history is not available (a shallow clone, no repository), says how to get
    it and shows the trend as unknown.
    """
    settings = _settings(config_file)
    report = _report((), config_file)
    chosen = _chosen_models(report, models)
    since_utc = since.replace(tzinfo=dt.timezone.utc) if since else None
    # The model files' history alone: the trend and its review points need no more.
    trends, _, warnings = Pipeline(settings).trends(report, since=since_utc, models=chosen)
    for warning in warnings:
        click.echo(f"warning: {one_line(warning)}", err=True)
    shown = [trends.models[model_id] for model_id in chosen]
    if output_format == "json":
        click.echo(trend_report.as_json(trends, shown, settings.bands), nl=False)
    elif output_format == "csv":
        click.echo(trend_report.as_csv(shown, settings.bands), nl=False)
    else:
        day = since.date() if since else None
        click.echo("\n".join(trend_report.as_text(shown, settings.bands, day)))


def _chosen_models(report: Report, names: Sequence[str]) -> list[str]:
    """Model ids of the models named by id or by file (all models when none is named)."""
    ids = [m.model.id for m in report.models]
    if not names:
        return ids
    by_file = {m.loaded.path.resolve(): m.model.id for m in report.models}
    chosen = []
    for name in names:
        if name in ids:
            chosen.append(name)
            continue
        model_id = by_file.get(Path(name).resolve())
        if model_id is None:
            raise click.UsageError(
                one_line(f"no model '{name}': name a model id ({', '.join(ids)}) or model file")
            )
        chosen.append(model_id)
    return list(dict.fromkeys(chosen))


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
    if output_format == "markdown":
        click.echo("\n".join(backlog_report.as_markdown(rows)))
        return
    _echo_styled(backlog_report.as_text(rows))


@main.command()
@paths_argument
@config_option
@format_option(
    "table",
    "markdown",
    "csv",
    "json",
    help="table for the terminal, markdown for a page or PR comment, csv or json for audits.",
)
def controls(paths: tuple[Path, ...], config_file: Path | None, output_format: str) -> None:
    """List the controls the mitigations implement, by framework, with their threats."""
    frameworks = _report(paths, config_file).controls
    if output_format == "csv":
        click.echo(controls_csv(frameworks), nl=False)
    elif output_format == "json":
        click.echo(controls_json(frameworks), nl=False)
    elif output_format == "markdown":
        click.echo("\n".join(controls_report.as_markdown(control_rows(frameworks))))
    else:
        _echo_styled(controls_report.as_text(control_rows(frameworks)))


def _build(config_file: Path | None) -> SiteBuild:
    settings = _settings(config_file)
    pipeline = Pipeline(settings)
    try:
        with terminal_progress() as progress:
            pipeline.progress = progress
            site = pipeline.build()
    except BuildError as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        click.echo(one_line(str(exc)), err=True)
        sys.exit(EXIT_INVALID)
    for warning in site.warnings:
        click.echo(f"warning: {one_line(warning)}", err=True)
    return site


@main.command()
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@config_option
def generate(outdir: Path, config_file: Path | None) -> None:
    """Write the files the MkDocs plugin adds to a site into OUTDIR, for any site generator.

    OUTDIR is the docs folder of the site to publish them in: the pages, the
    data-flow diagrams, the stylesheet and the backlog as CSV and JSON go into
    its subfolder named by the plugin's 'path' option (default threat-models),
    exactly as the plugin serves them, with the tm-docs options of mkdocs.yml.
    """
    site = _build(config_file)
    written = write_site(site.files, site.layout.root, outdir)
    click.echo(f"wrote {written} files to {display_path(outdir / site.layout.root)}", err=True)
    if site.stylesheet:
        click.echo(
            f"style them: add '{site.stylesheet}' to extra_css in mkdocs.yml "
            "(or link it from your site's pages)",
            err=True,
        )


@main.command(hidden=True)
@config_option
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.pass_context
def pages(ctx: click.Context, config_file: Path | None, output: Path) -> None:
    """Old name of 'generate' (tm-docs pages -o DIR is tm-docs generate DIR)."""
    ctx.invoke(generate, outdir=output, config_file=config_file)


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
@click.argument("sources", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="Model file to write (default: standard output); with several "
              "SOURCES, the folder to write one model file per source into.")  # fmt: skip
@click.option("--force", is_flag=True, help="Replace the output file if it exists.")
def import_(
    source_format: str, sources: tuple[Path, ...], output: Path | None, force: bool
) -> None:
    """Turn another tool's model into a tm-docs model, reporting what did not fit.

    Several SOURCES are imported into the folder given by --output, each into
    a file named after its source (e.g. shop.json becomes shop.yaml).
    """
    if len(sources) > 1:
        if output is None or output.is_file():
            raise click.UsageError("importing several files needs --output FOLDER")
        _import_many(source_format, sources, output, force)
        return
    (source,) = sources
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


def _import_many(source_format: str, sources: Sequence[Path], folder: Path, force: bool) -> None:
    """One model file per source; a source that fails is named and the others go on."""
    targets = [folder / f"{source.stem}.yaml" for source in sources]
    if len(set(targets)) < len(targets):
        raise click.UsageError("two sources have the same name; import them into two folders")
    failed = 0
    written: dict[str, Path] = {}  # model id -> the file that has it: ids must stay unique
    with terminal_progress() as progress:
        for number, (source, target) in enumerate(zip(sources, targets, strict=True), 1):
            try:
                model, text, report = import_model(source_format, source)
                if model.id in written:
                    raise ImportFailure(
                        f"{display_path(source)}: its model id '{model.id}' is already the id "
                        f"of {display_path(written[model.id])}; import it into another folder "
                        "and give it an id of its own"
                    )
                write_new(target, text, force)
                written[model.id] = target
            except ImportFailure as exc:
                failed += 1
                click.echo(one_line(str(exc)), err=True)  # it names the file
            else:
                for line in report_lines(report):
                    click.echo(f"{display_path(source)}: {line}", err=True)
                click.echo(f"wrote {display_path(target)}", err=True)
            progress("importing files", number, len(sources))
    if failed:
        raise click.ClickException(f"{failed} of {len(sources)} files could not be imported")


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
