"""Options of the MkDocs plugin, as users write them under `plugins: - tm-docs:`.

The command line reads the same options from `mkdocs.yml`, so the site and the
checks in CI use one configuration.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from mkdocs.config import base
from mkdocs.config import config_options as c

from .analysis.risk import RiskBands
from .analysis.settings import Policy, Settings
from .analysis.stride import chart_from
from .problems import one_line


class RiskBandsConfig(base.Config):
    """Lowest risk score (impact x likelihood) of each band above 'low'."""

    medium = c.Type(int, default=5)
    high = c.Type(int, default=10)
    critical = c.Type(int, default=15)


class CheckConfig(base.Config):
    # What `tm-docs check` fails on: critical-unplanned, untriaged, coverage, stale-dismissals.
    fail_on = c.ListOfItems(c.Choice([p.value for p in Policy]), default=["critical-unplanned"])


class TmDocsConfig(base.Config):
    # Where the model files are, relative to mkdocs.yml.
    models = c.Type(str, default="models")
    # Folder of the site (inside docs) that the generated pages live in.
    path = c.Type(str, default="threat-models")
    # The navigation section the plugin adds, and where it goes.
    nav_title = c.Type(str, default="Threat models")
    nav_position = c.Choice(("end", "start"), default="end")
    # Folder whose templates replace the package's templates of the same name.
    templates = c.Optional(c.Type(str))
    risk_bands = c.SubConfig(RiskBandsConfig)
    # "Edit this page" on a model page opens the model file: repo_url + edit_uri
    # + the file's path from the folder of mkdocs.yml.  Derived from the site's
    # own edit_uri when not given (its docs folder part is dropped).
    edit_uri = c.Optional(c.Type(str))
    # Add tm-docs' stylesheet (risk colours, heatmap) to the site.
    stylesheet = c.Type(bool, default=True)
    # Draw each model's data-flow diagram with Graphviz (needs `dot` on PATH).
    diagrams = c.Type(bool, default=True)
    # Where rendered diagrams are kept between builds, relative to mkdocs.yml.
    cache_dir = c.Type(str, default=".tm-docs-cache")
    # Folder of the repository's own threat rules, in addition to the packaged ones.
    rules = c.Optional(c.Type(str))
    # Which STRIDE categories apply to which element kind, replacing the default
    # chart per kind (external_entity, process, data_store, queue, flow).
    stride_per_element = c.Type(dict, default={})
    check = c.SubConfig(CheckConfig)
    # Flag models whose architecture changed in git after their last review.
    staleness = c.Type(bool, default=True)
    # Also flag models not reviewed for longer than this many days.
    max_age_days = c.Optional(c.Type(int))
    # Link to a commit, with {sha} for its hash; derived from repo_url for GitHub,
    # GitLab and Bitbucket when not given.
    commit_url = c.Optional(c.Type(str))
    # From this many models on, the site-wide pages (backlog, STRIDE, assets, heatmap) open with
    # a summary of what to fix first and list the rest on one page per owner; 0: never split.
    owner_pages_from = c.Type(int, default=20)


class ConfigError(Exception):
    """The tm-docs options are wrong; the message says which and why."""


def commit_url_for(repo_url: str | None) -> str | None:
    """The commit page URL template of a repository host, if tm-docs knows it."""
    if not repo_url:
        return None
    base = repo_url.rstrip("/")
    if "gitlab" in base:
        return base + "/-/commit/{sha}"
    if "bitbucket.org" in base:
        return base + "/commits/{sha}"
    if "github" in base or "gitea" in base or "codeberg" in base:
        return base + "/commit/{sha}"
    return None


_SITE_PATH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


def site_path(value: str) -> str:
    """The folder of the generated pages inside the docs folder, checked: relative,
    no '..', plain names, so no option can make the build write outside the site."""
    cleaned = value.strip().strip("/")
    if not _SITE_PATH.match(cleaned) or any(part == ".." for part in cleaned.split("/")):
        raise ConfigError(
            f"tm-docs option 'path': '{one_line(value)[:80]}' is not a folder inside the docs "
            "folder; use names of letters, digits, '.', '_' and '-' separated by '/' "
            "(for example 'threat-models' or 'security/models')"
        )
    return cleaned


def to_settings(
    options: TmDocsConfig,
    root: Path,
    repo_url: str | None = None,
    *,
    use_directory_urls: bool = True,
) -> Settings:
    """The analysis settings the options describe; paths are relative to `root`."""
    bands = options.risk_bands
    try:
        risk_bands = RiskBands(bands.medium, bands.high, bands.critical)
        chart = chart_from(options.stride_per_element)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if options.owner_pages_from < 0:
        raise ConfigError(
            "tm-docs option 'owner_pages_from': a number of models, 0 or more "
            f"(0: never split the site-wide pages), not {options.owner_pages_from}"
        )
    templates = root / options.templates if options.templates else None
    if templates is not None and not templates.is_dir():
        raise ConfigError(
            f"tm-docs option 'templates': the folder {options.templates} does not exist"
        )
    return Settings(
        root=root,
        site_path=site_path(options.path),
        models_dir=root / options.models,
        bands=risk_bands,
        chart=chart,
        rule_dirs=(root / options.rules,) if options.rules else (),
        fail_on=tuple(Policy(p) for p in options.check.fail_on),
        staleness=options.staleness,
        max_age_days=options.max_age_days,
        commit_url=options.commit_url or commit_url_for(repo_url),
        template_dirs=(templates,) if templates else (),
        diagrams=options.diagrams,
        stylesheet=options.stylesheet,
        cache_dir=root / options.cache_dir,
        use_directory_urls=use_directory_urls,
        owner_pages_from=options.owner_pages_from,
    )


class _TolerantLoader(yaml.SafeLoader):
    """Reads mkdocs.yml without running anything: unknown tags become None."""


_TolerantLoader.add_multi_constructor("", lambda loader, suffix, node: None)


def _read(config_file: Path) -> dict[str, Any]:
    try:
        data = yaml.load(config_file.read_text(encoding="utf-8"), Loader=_TolerantLoader)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{config_file}: cannot read it: {exc}") from None
    return data if isinstance(data, dict) else {}


def plugin_options(config_file: Path) -> dict[str, Any]:
    """The tm-docs entry of `plugins:` in a mkdocs.yml ({} when absent)."""
    plugins = _read(config_file).get("plugins") or []
    if isinstance(plugins, dict):
        plugins = [{name: value} for name, value in plugins.items()]
    for entry in plugins:
        if isinstance(entry, dict) and "tm-docs" in entry:
            return dict(entry["tm-docs"] or {})
    return {}


def settings_from_file(config_file: Path | None) -> Settings:
    """Settings from a mkdocs.yml's tm-docs options, or the defaults without one."""
    options = TmDocsConfig()
    root = config_file.resolve().parent if config_file else Path.cwd()
    options.load_dict(plugin_options(config_file) if config_file else {})
    errors, _ = options.validate()
    if errors:
        name, error = errors[0]
        raise ConfigError(f"{config_file}: tm-docs option '{name}': {error}")
    site = _read(config_file) if config_file else {}
    repo_url = site.get("repo_url")
    return to_settings(
        options,
        root,
        repo_url if isinstance(repo_url, str) else None,
        use_directory_urls=site.get("use_directory_urls", True) is not False,
    )
