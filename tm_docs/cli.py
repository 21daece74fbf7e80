"""The `tm-docs` command line.

Exit codes: 0 success, 1 the models have errors, 2 a usage error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from . import __version__
from .analysis.portfolio import Portfolio
from .dfd.build import draw
from .dfd.graphviz import GraphvizError
from .dfd.render import DiagramRenderer, render_png
from .loader import LoadResult, ModelPathError, load_models
from .problems import Problem
from .render.pages import ModelIdClash, SiteLayout, render_site
from .schema import json_schema_text

DEFAULT_MODELS = Path("models")

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _load_or_exit(paths: tuple[Path, ...]) -> LoadResult:
    try:
        result = load_models(list(paths) or [DEFAULT_MODELS])
    except ModelPathError as exc:
        raise click.UsageError(str(exc)) from None
    if not result.files:
        where = ", ".join(str(p) for p in paths) or str(DEFAULT_MODELS)
        raise click.UsageError(f"no model files (*.yaml, *.yml) found in {where}")
    return result


def _github_annotation(problem: Problem) -> str:
    # Workflow commands need '%', CR and LF escaped in the message and properties.
    def esc(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    level = "error" if problem.is_error else "warning"
    file = esc(problem.file).replace(":", "%3A").replace(",", "%2C")
    return f"::{level} file={file},line={problem.line},col={problem.column}::{esc(problem.message)}"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tm-docs")
def main() -> None:
    """Threat models as code: validate them and publish them as a site."""


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text for people, json for tools, github for annotations in GitHub Actions.",
)
def validate(paths: tuple[Path, ...], output_format: str) -> None:
    """Check model files and report every problem with its file, line and column.

    PATHS are model files or folders searched for *.yaml and *.yml files
    (default: ./models).
    """
    result = _load_or_exit(paths)
    errors = result.errors
    if output_format == "json":
        report = {
            "ok": result.ok,
            "files": [str(p) for p in result.files],
            "models": [
                {"id": m.model.id, "title": m.model.title, "file": m.display_path}
                for m in result.models
            ],
            "problems": [
                {
                    "file": p.file,
                    "line": p.line,
                    "column": p.column,
                    "severity": p.severity.value,
                    "message": p.message,
                }
                for p in result.problems
            ],
        }
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        render = _github_annotation if output_format == "github" else str
        for problem in result.problems:
            click.echo(render(problem))
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


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
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
def pages(paths: tuple[Path, ...], output: Path, section: str) -> None:
    """Write the threat-model pages as plain Markdown files, for any site generator.

    The same pages the MkDocs plugin adds to a site, plus the backlog as CSV and
    JSON. PATHS are model files or folders (default: ./models).
    """
    result = _load_or_exit(paths)
    if not result.ok:
        for problem in result.problems:
            click.echo(str(problem))
        click.echo(f"{_plural(len(result.errors), 'error')}; no pages written", err=True)
        sys.exit(EXIT_INVALID)
    portfolio = Portfolio(result.models)
    try:
        generated = render_site(portfolio, SiteLayout(root=section.strip("/")))
    except ModelIdClash as exc:
        raise click.ClickException(str(exc)) from None
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
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="File to write; its suffix (.svg or .png) picks the format.",
)
def dfd(model_file: Path, output: Path) -> None:
    """Draw the data-flow diagram of one model as SVG or PNG.

    The SVG stands alone (icons embedded); its components and flows link to
    anchors of the model's page on the site.
    """
    suffix = output.suffix.lower()
    if suffix not in (".svg", ".png"):
        raise click.UsageError(f"{output}: the output file must end in .svg or .png")
    result = _load_or_exit((model_file,))
    if not result.ok:
        for problem in result.problems:
            click.echo(str(problem))
        sys.exit(EXIT_INVALID)
    (loaded,) = result.models
    drawn = draw(loaded.model)
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
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
