"""The MkDocs plugin: thin glue from MkDocs events to load -> analyse -> render."""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

from jinja2 import TemplateError
from markupsafe import escape
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.livereload import LiveReloadServer
from mkdocs.plugins import BasePlugin, get_plugin_logger
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.nav import Navigation, Section
from mkdocs.structure.pages import Page

from .analysis.portfolio import Portfolio
from .analysis.report import Report, analyse
from .analysis.rules import load_rules
from .analysis.staleness import Staleness, staleness
from .config import ConfigError, TmDocsConfig, to_settings
from .dfd.build import draw
from .dfd.graphviz import GraphvizError
from .dfd.render import DiagramRenderer
from .dfd.svg import natural_size, smallest_font
from .history import History, Unavailable, read_history
from .loader import LoadedModel, ModelPathError, load_models
from .problems import one_line
from .render.pages import (
    MODEL_LIST_MARKER,
    DiagramImage,
    GeneratedFile,
    SiteLayout,
    model_list,
    render_site,
)
from .safe_files import check_folder
from .settings import Settings

log = get_plugin_logger("tm_docs")

STYLESHEET = "tm-docs.css"
SCRIPT = "tm-docs.js"  # the full-screen diagram viewer
DIAGRAM_FILE = "dfd.svg"


class TmDocsPlugin(BasePlugin[TmDocsConfig]):
    def on_startup(self, *, command: str, dirty: bool) -> None:
        # Defining on_startup makes MkDocs keep this instance across `mkdocs
        # serve` rebuilds, and with it the renderer's in-memory diagram cache.
        pass

    def __init__(self) -> None:
        self._renderer: DiagramRenderer | None = None
        self._history: History | None = None  # kept across `mkdocs serve` rebuilds
        self._warned: str | None = None
        self._link_base = "./"
        self._models_dir = Path("models")
        self._layout = SiteLayout()
        self._settings = Settings()
        self._generated: list[GeneratedFile] = []
        self._model_files: dict[str, LoadedModel] = {}  # page path -> model
        self._report: Report | None = None  # for the model list of hand-written pages
        self._template_dirs: list[Path] = []

    # --- configuration ----------------------------------------------------

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        root = Path(config.config_file_path or ".").resolve().parent
        self._root = root
        try:
            self._settings = to_settings(self.config, root, config.repo_url)
        except ConfigError as exc:
            raise PluginError(f"tm-docs: {exc}") from None
        self._layout = SiteLayout(root=self._settings.site_path)
        self._models_dir = self._settings.models_dir
        if self.config.templates:
            refused = check_folder(Path(self.config.templates), root, "templates folder")
            if refused is not None:
                raise PluginError(f"tm-docs: {refused}")
        if self.config.stylesheet:
            config.extra_css.append(self._layout.data_file(STYLESHEET))
            config.extra_javascript.append(self._layout.data_file(SCRIPT))
        cache_dir = root / self.config.cache_dir / "dfd"
        if self._renderer is None or self._renderer.cache_dir != cache_dir:
            self._renderer = DiagramRenderer(cache_dir)
        # Diagram links point at anchors of the page that shows the diagram.
        self._link_base = "./" if config.use_directory_urls else "index.html"
        return config

    # --- pages ------------------------------------------------------------

    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        try:
            return self._add_files(files, config)
        except PluginError:
            raise
        except Exception as exc:
            # A bug of tm-docs, not a mistake in the models: one clear line (the
            # traceback at debug level, `mkdocs build -v`), never a crash dump.
            log.debug("tm-docs failed", exc_info=True)
            raise PluginError(
                f"tm-docs: internal error ({type(exc).__name__}: {one_line(str(exc))[:300]}); "
                "this is a bug in tm-docs, please report it (mkdocs build -v shows the details)"
            ) from None

    def _add_files(self, files: Files, config: MkDocsConfig) -> Files:
        try:
            result = load_models([self._models_dir], root=self._root)
        except ModelPathError:
            raise PluginError(
                f"tm-docs: the models folder '{self.config.models}' does not exist "
                f"(looked in {self._models_dir}); create it or set the plugin's 'models' option"
            ) from None
        for problem in result.problems:
            if not problem.is_error:
                log.warning(str(problem))
        if not result.ok:
            lines = "\n".join(str(p) for p in result.errors)
            raise PluginError(
                f"tm-docs: {len(result.errors)} problem(s) in the threat models:\n{lines}"
            )
        if not result.models:
            log.warning(f"no model files (*.yaml, *.yml) in {self.config.models}")

        rules = load_rules(self._settings.rule_dirs, root=self._root)
        if rules.problems:
            lines = "\n".join(str(p) for p in rules.problems)
            raise PluginError(f"tm-docs: problems in the threat rules:\n{lines}")
        report = analyse(result.models, self._settings, rules)
        for warning in report.warnings:
            log.warning(str(warning))
        diagrams = self._diagrams(report.portfolio)
        stale = self._staleness(result.models)
        template_dirs = [Path(self.config.templates)] if self.config.templates else []
        self._report, self._template_dirs = report, template_dirs
        try:
            self._generated = render_site(
                report,
                self._layout,
                template_dirs=template_dirs,
                diagrams={
                    model_id: DiagramImage(DIAGRAM_FILE, *natural_size(svg), smallest_font(svg))
                    for model_id, svg in diagrams.items()
                },
                staleness=stale,
            )
        except TemplateError as exc:
            raise PluginError(f"tm-docs: a page template failed: {exc}") from None
        self._model_files = {self._layout.model_page(m.model.id): m for m in result.models}
        stylesheet = resources.files("tm_docs").joinpath("assets", STYLESHEET).read_text()
        script = resources.files("tm_docs").joinpath("assets", SCRIPT).read_text()
        extra = [
            *self._generated,
            GeneratedFile(self._layout.data_file(STYLESHEET), stylesheet),
            GeneratedFile(self._layout.data_file(SCRIPT), script),
        ]
        for model_id, svg in diagrams.items():
            folder = posixpath.dirname(self._layout.model_page(model_id))
            extra.append(GeneratedFile(f"{folder}/{DIAGRAM_FILE}", svg))
        for generated in extra:
            if files.get_file_from_path(generated.path) is not None:
                # A hand-written file of the same name wins; say so once.
                log.warning(f"docs/{generated.path} exists, so tm-docs does not generate it")
                continue
            # Not in the automatic navigation: on_nav places the pages itself.
            inclusion = InclusionLevel.NOT_IN_NAV if generated.title else InclusionLevel.UNDEFINED
            files.append(
                File.generated(
                    config, generated.path, content=generated.content, inclusion=inclusion
                )
            )
        log.info(f"{len(result.models)} threat models, {len(self._generated)} generated files")
        return files

    def _staleness(self, models: Sequence[LoadedModel]) -> dict[str, Staleness]:
        """Each model's staleness, from one read of the git history (reused per HEAD)."""
        if not self._settings.staleness:
            return {}
        history = read_history(self._models_dir, self._history)
        if isinstance(history, Unavailable):
            if history.reason != self._warned:  # say a repeated warning once
                log.warning(f"stale models cannot be found: {history.reason}")
                self._warned = history.reason
            self._history = None
        else:
            self._history = history
        return {
            m.model.id: staleness(m, history, max_age_days=self._settings.max_age_days)
            for m in models
        }

    def _diagrams(self, portfolio: Portfolio) -> dict[str, bytes]:
        """SVG of each model's data-flow diagram, drawn or taken from the cache."""
        if not self.config.diagrams or self._renderer is None:
            return {}
        drawn = {
            s.model.id: draw(s.model, self._settings.bands, link_base=self._link_base)
            for s in portfolio.summaries
        }
        try:
            svgs = self._renderer.render_all(drawn)
        except GraphvizError as exc:
            raise PluginError(
                f"tm-docs: cannot draw the data-flow diagrams: {exc} "
                "(or set 'diagrams: false' in the tm-docs plugin options)"
            ) from None
        stats = self._renderer.stats
        log.info(f"data-flow diagrams: {stats.drawn} drawn, {stats.cached} from the cache")
        return svgs

    def on_nav(self, nav: Navigation, *, config: MkDocsConfig, files: Files) -> Navigation:
        ours = {g.path: g for g in self._generated if g.title is not None}
        if config.nav is not None and _mentions(nav.items, ours):
            return nav  # the site's own `nav:` places our pages; respect it
        nav.items = _without(nav.items, ours)
        section = self._section(ours, files, config)
        if self.config.nav_position == "start":
            nav.items.insert(0, section)
        else:
            nav.items.append(section)
        nav.pages = list(_pages(nav.items))
        _link_siblings(nav.pages)
        return nav

    def _section(
        self, ours: dict[str, GeneratedFile], files: Files, config: MkDocsConfig
    ) -> Section:
        def page(path: str) -> Page:
            file = files.get_file_from_path(path)
            assert file is not None
            # The title comes from the page's front matter, where it is escaped.
            return Page(None, file, config)

        model_paths = [p for p in ours if p in self._model_files]
        site_pages = [page(p) for p in ours if p not in self._model_files]
        models = Section("Models", [page(p) for p in model_paths])
        # Themes print section titles as HTML.
        section = Section(str(escape(self.config.nav_title)), [*site_pages, models])
        for child in section.children:
            child.parent = section
        for child in models.children:
            child.parent = models
        return section

    def on_page_markdown(
        self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str:
        path = page.file.src_uri
        if path in self._model_files:
            page.edit_url = self._edit_url(self._model_files[path], config)
        elif any(g.path == path for g in self._generated):
            page.edit_url = None  # generated from all models: nothing to edit
        elif MODEL_LIST_MARKER in markdown and self._report is not None:
            listed = model_list(self._report, self._layout, path, self._template_dirs)
            markdown = markdown.replace(MODEL_LIST_MARKER, listed)
        return markdown

    def _edit_url(self, loaded: LoadedModel, config: MkDocsConfig) -> str | None:
        if not config.repo_url:
            return None
        edit_uri = self.config.edit_uri
        if edit_uri is None:
            if not config.edit_uri:
                return None
            docs = Path(config.docs_dir).resolve().relative_to(self._root).as_posix()
            edit_uri = config.edit_uri.rstrip("/")
            edit_uri = edit_uri[: -len(docs)] if edit_uri.endswith(docs) else edit_uri + "/"
        try:
            relative = loaded.path.resolve().relative_to(self._root).as_posix()
        except ValueError:
            return None
        base = urljoin(config.repo_url.rstrip("/") + "/", edit_uri)
        # Themes print the URL into an attribute as it is: encode the file name.
        relative = quote(relative, safe="/")
        return posixpath.join(base, relative) if not base.endswith("/") else base + relative

    # --- serve ------------------------------------------------------------

    def on_serve(
        self, server: LiveReloadServer, *, config: MkDocsConfig, builder: Any
    ) -> LiveReloadServer:
        if self._models_dir.is_dir():
            server.watch(str(self._models_dir))
        if self.config.templates:
            server.watch(str(self.config.templates))
        for folder in self._settings.rule_dirs:
            if folder.is_dir():
                server.watch(str(folder))
        return server


def _mentions(items: list[Any], paths: dict[str, GeneratedFile]) -> bool:
    for item in items:
        if isinstance(item, Page) and item.file.src_uri in paths:
            return True
        if isinstance(item, Section) and _mentions(item.children, paths):
            return True
    return False


def _without(items: list[Any], paths: dict[str, GeneratedFile]) -> list[Any]:
    """The navigation items with our pages (and sections left empty) taken out."""
    kept = []
    for item in items:
        if isinstance(item, Page) and item.file.src_uri in paths:
            continue
        if isinstance(item, Section):
            item.children = _without(item.children, paths)
            if not item.children:
                continue
        kept.append(item)
    return kept


def _pages(items: list[Any]) -> Any:
    for item in items:
        if isinstance(item, Page):
            yield item
        elif isinstance(item, Section):
            yield from _pages(item.children)


def _link_siblings(pages: list[Page]) -> None:
    for before, after in zip([None, *pages], [*pages, None], strict=True):
        if after is not None:
            after.previous_page = before
        if before is not None:
            before.next_page = after
