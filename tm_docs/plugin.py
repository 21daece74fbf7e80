"""The MkDocs plugin: thin glue from MkDocs events to load -> analyse -> render."""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin

from markupsafe import escape
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, get_plugin_logger
from mkdocs.structure.files import File, Files, InclusionLevel
from mkdocs.structure.nav import Navigation, Section
from mkdocs.structure.pages import Page
from mkdocs.utils import is_markdown_file

from .analysis.settings import Settings
from .config import ConfigError, TmDocsConfig, to_settings
from .load.files import check_folder
from .load.git import head_files
from .load.models import LoadedModel
from .pipeline import SCRIPT, STYLESHEET, BuildError, Pipeline, SiteBuild
from .problems import one_line
from .render.dirty import DirtySources, remove_manifest
from .render.pages import (
    MODEL_LIST_MARKER,
    GeneratedFile,
    SiteLayout,
    model_list,
    render_error_page,
)

if TYPE_CHECKING:  # the server's modules (http, ssl, watchdog) only for `mkdocs serve`
    from mkdocs.livereload import LiveReloadServer

log = get_plugin_logger("tm_docs")


class TmDocsPlugin(BasePlugin[TmDocsConfig]):
    def on_startup(self, *, command: str, dirty: bool) -> None:
        # Defining on_startup makes MkDocs keep this instance across `mkdocs
        # serve` rebuilds, and with it the renderer's in-memory diagram cache.
        self._serving = command == "serve"
        self._dirty = dirty

    def __init__(self) -> None:
        self._pipeline: Pipeline | None = None  # kept across `mkdocs serve` rebuilds
        self._settings = Settings()
        self._root = Path(".")
        self._site: SiteBuild | None = None
        self._serving = False
        self._dirty = False  # `--dirty`: generated files get private sources (render.dirty)
        self._sources = DirtySources()

    # --- configuration ----------------------------------------------------

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        root = Path(config.config_file_path or ".").resolve().parent
        self._root = root
        try:
            settings = to_settings(
                self.config, root, config.repo_url, use_directory_urls=config.use_directory_urls
            )
        except ConfigError as exc:
            raise PluginError(f"tm-docs: {exc}") from None
        for folder in settings.template_dirs:
            refused = check_folder(folder, root, "templates folder")
            if refused is not None:
                raise PluginError(f"tm-docs: {refused}")
        self._settings = settings
        if self._pipeline is None:
            self._pipeline = Pipeline(settings)
        else:
            self._pipeline.configure(settings)
        if not {"md_in_html", "markdown.extensions.md_in_html"} & set(config.markdown_extensions):
            # The long lists of large sites' pages fold away in <details markdown="1">,
            # whose Markdown (tables, links to pages) only this extension reads.
            config.markdown_extensions.append("md_in_html")
        if settings.stylesheet:
            layout = SiteLayout(settings.site_path)
            config.extra_css.append(layout.data_file(STYLESHEET))
            config.extra_javascript.append(layout.data_file(SCRIPT))
        return config

    # --- pages ------------------------------------------------------------

    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        assert self._pipeline is not None
        try:
            site = self._pipeline.build()
        except BuildError as exc:
            lines = "".join(f"\n{p}" for p in exc.problems)
            if not self._serving:
                raise PluginError(f"tm-docs: {exc}{':' if lines else ''}{lines}") from None
            # While serving, a broken model must not stop the server: the section
            # becomes one page that lists the problems until the files are fixed.
            log.error(f"tm-docs: {exc}{':' if lines else ''}{lines}")
            return self._error_page(files, config, exc)
        except Exception as exc:
            # A bug of tm-docs, not a mistake in the models: one clear line (the
            # traceback at debug level, `mkdocs build -v`), never a crash dump.
            log.debug("tm-docs failed", exc_info=True)
            raise PluginError(
                f"tm-docs: internal error ({type(exc).__name__}: {one_line(str(exc))[:300]}); "
                "this is a bug in tm-docs, please report it (mkdocs build -v shows the details)"
            ) from None
        self._site = site
        for warning in site.warnings:
            log.warning(warning)
        if self._dirty:
            self._sources.start(Path(config.site_dir))
        for generated in site.files:
            if files.get_file_from_path(generated.path) is not None:
                # A hand-written file of the same name wins; say so once.
                log.warning(f"docs/{generated.path} exists, so tm-docs does not generate it")
                continue
            # Not in the automatic navigation: on_nav places the pages itself.
            inclusion = InclusionLevel.NOT_IN_NAV if generated.title else InclusionLevel.UNDEFINED
            files.append(self._generated(config, generated, inclusion))
        for note in site.notes:
            log.info(note)
        if not self._serving:
            # A `mkdocs build` builds once: MkDocs holds (or reads from disk) the generated
            # files now, and the page hooks need only the paths, titles and report of the
            # site. The pipeline's memos are for a next build, which will not come.
            self._site = site.without_contents()
            self._pipeline = None
        return files

    def _generated(
        self, config: MkDocsConfig, generated: GeneratedFile, inclusion: InclusionLevel
    ) -> File:
        path, content = generated.path, generated.content
        if self._dirty:
            # Under --dirty a file on disk, so that MkDocs rebuilds its page only when it
            # changed.
            source = self._sources.source(path)
            if source is not None:
                file = File.generated(config, path, abs_src_path=str(source), inclusion=inclusion)
                self._sources.write(path, content, file.dest_uri)
                return file
        elif not self._serving:
            # A `mkdocs build` gets a file on disk too, as a hand-written site's are: MkDocs
            # then keeps no copy of a page's text beside the page's own Markdown.
            backing = self._sources.backing(path, content, read_as_text=is_markdown_file(path))
            if backing is not None:
                return File.generated(config, path, abs_src_path=str(backing), inclusion=inclusion)
        return File.generated(config, path, content=content, inclusion=inclusion)

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        if self._dirty:
            self._sources.finish()
        else:
            remove_manifest(Path(config.site_dir))

    def _error_page(self, files: Files, config: MkDocsConfig, exc: BuildError) -> Files:
        layout = SiteLayout(self._settings.site_path)
        page = render_error_page(layout, str(exc), exc.problems, self._settings.template_dirs)
        self._site = None
        if self._dirty:
            self._sources.start(Path(config.site_dir))  # the pages of the models go, for now
        if files.get_file_from_path(page.path) is None:
            files.append(File.generated(config, page.path, content=page.content))
        return files

    def on_nav(self, nav: Navigation, *, config: MkDocsConfig, files: Files) -> Navigation:
        if self._site is None:
            return nav
        ours = {g.path: g for g in self._site.pages}
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
            # The title comes from the page's front matter, where it is escaped. A dirty
            # build does not read the pages it keeps: the title is given, escaped alike.
            title = ours[path].title if self._dirty else None
            return Page(str(escape(title)) if title is not None else None, file, config)

        model_files = self._site.model_pages if self._site else {}
        model_paths = [p for p in ours if p in model_files]
        site_pages = [page(p) for p, g in ours.items() if p not in model_files and g.in_nav]
        models = Section("Models", [page(p) for p in model_paths])
        # Themes print section titles as HTML.
        section = Section(str(escape(self.config.nav_title)), [*site_pages, models])
        for child in section.children:
            child.parent = section
        for child in models.children:
            child.parent = models
        return section

    def on_env(self, env: Any, *, config: MkDocsConfig, files: Files) -> Any:
        if not self._serving:
            # Every page's Markdown hook has run (MkDocs reads all pages before this
            # event): the report and the loaded models are needed no more by a build
            # that is the last, and MkDocs' own work from here on reuses their memory.
            self._site = None
        return env

    def on_page_markdown(
        self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files
    ) -> str:
        path = page.file.src_uri
        if self._site is None:
            return markdown
        if path in self._site.model_pages:
            page.edit_url = self._edit_url(self._site.model_pages[path], config)
        elif path in self._site.paths:
            page.edit_url = None  # generated from all models: nothing to edit
        elif MODEL_LIST_MARKER in markdown:
            listed = model_list(
                self._site.report, self._site.layout, path, self._settings.template_dirs
            )
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
        if self._settings.models_dir.is_dir():
            server.watch(str(self._settings.models_dir))
        for folder in self._settings.template_dirs:
            server.watch(str(folder))
        # A new commit (HEAD moves) changes staleness: watch what git changes then.
        for path in head_files(self._root):
            server.watch(str(path))
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
