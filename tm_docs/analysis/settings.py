"""What a site may configure about the analysis, independent of MkDocs.

The MkDocs plugin and the command line both build one `Settings` from the
plugin options in `mkdocs.yml` (see `config.py`), so a site and its CI checks
agree on bands, the STRIDE chart, the rules and the check policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from ..model import Stride
from .risk import RiskBands
from .stride import DEFAULT_CHART


class Policy(str, Enum):
    """Findings `tm-docs check` can fail on."""

    CRITICAL_UNPLANNED = "critical-unplanned"
    UNTRIAGED = "untriaged"
    COVERAGE = "coverage"
    STALE_DISMISSALS = "stale-dismissals"


DEFAULT_FAIL_ON = (Policy.CRITICAL_UNPLANNED,)


@dataclass(frozen=True)
class Settings:
    # The project folder (of mkdocs.yml): every folder the options name must lie inside it.
    root: Path = Path(".")
    models_dir: Path = Path("models")
    site_path: str = "threat-models"  # folder of the generated pages inside the docs folder
    bands: RiskBands = field(default_factory=RiskBands)
    chart: dict[str, tuple[Stride, ...]] = field(default_factory=lambda: dict(DEFAULT_CHART))
    rule_dirs: tuple[Path, ...] = ()
    fail_on: tuple[Policy, ...] = DEFAULT_FAIL_ON
    staleness: bool = True
    max_age_days: int | None = None
    commit_url: str | None = None  # e.g. "https://github.com/org/repo/commit/{sha}"
    # How the site is published (the same for the plugin and `tm-docs generate`).
    template_dirs: tuple[Path, ...] = ()  # searched before the package's templates
    diagrams: bool = True
    stylesheet: bool = True
    cache_dir: Path | None = None  # None: diagrams are kept in memory only
    use_directory_urls: bool = True
    # From this many models on, the site-wide pages (backlog, STRIDE, assets, heatmap) open with
    # what to fix first and split the rest into one page per owner; 0: never.
    owner_pages_from: int = 20
