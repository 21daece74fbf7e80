"""Options of the MkDocs plugin, as users write them under `plugins: - tm-docs:`."""

from __future__ import annotations

from mkdocs.config import base
from mkdocs.config import config_options as c


class RiskBandsConfig(base.Config):
    """Lowest risk score (impact x likelihood) of each band above 'low'."""

    medium = c.Type(int, default=5)
    high = c.Type(int, default=10)
    critical = c.Type(int, default=15)


class TmDocsConfig(base.Config):
    # Where the model files are, relative to mkdocs.yml.
    models = c.Type(str, default="models")
    # Folder of the site (inside docs) that the generated pages live in.
    path = c.Type(str, default="threat-models")
    # The navigation section the plugin adds, and where it goes.
    nav_title = c.Type(str, default="Threat models")
    nav_position = c.Choice(("end", "start"), default="end")
    # Folder whose templates replace the package's templates of the same name.
    templates = c.Optional(c.Dir(exists=True))
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
