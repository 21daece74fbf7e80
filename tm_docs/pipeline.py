"""One run from model files to every file of the threat-model site.

`Pipeline.build()` loads the models and rules, analyses them, draws the
diagrams, reads the staleness from git and renders the pages, once, and
returns every file the site needs with the problems and warnings found on the
way.  The MkDocs plugin turns those files into pages of a site; `tm-docs
generate` writes the very same files to a folder for any other site
generator; the other commands ask the same functions for the facts they print.

A `Pipeline` object keeps what can be reused across `mkdocs serve` rebuilds
(the diagram renderer's cache, the git history while HEAD does not move).
"""

from __future__ import annotations

import datetime as dt
import os
import posixpath
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from importlib import resources

from jinja2 import TemplateError

from . import __version__
from .analysis.diff import ReviewResult, compare
from .analysis.report import AnalysisMemo, Report, analyse
from .analysis.settings import Settings
from .analysis.staleness import (
    Staleness,
    StalenessMemo,
    most_behind_first,
    review_point,
    staleness,
)
from .analysis.stored import ANALYSIS_CACHE, MAX_ANALYSIS_ENTRY_BYTES
from .analysis.trend import (
    PointParts,
    Result,
    Trends,
    decoder,
    encode_point,
    fingerprint,
    model_trend,
    site_trend,
    unknown_trend,
)
from .dfd.build import DrawnDiagram, draw
from .dfd.drawings import DRAWING_CACHE, MAX_DRAWING_BYTES, DrawingMemo
from .dfd.graphviz import GraphvizError
from .dfd.render import DiagramRenderer, LayoutFailed, Layouts, open_diagram_cache
from .dfd.site_icons import ICON_CACHE, MAX_ICON_ENTRY_BYTES, SiteIcons
from .dfd.svg import natural_size, smallest_font
from .load.cache import CacheFolder, CacheRefused
from .load.git import GitError
from .load.history import History, Unavailable, read_history
from .load.models import (
    MAX_MODEL_ENTRY_BYTES,
    MODEL_CACHE,
    LoadedModel,
    LoadMemo,
    LoadResult,
    ModelPathError,
    load_models,
)
from .load.revisions import changed_files, resolve_change, snapshot_at, snapshot_worktree
from .load.rules import RuleMemo, load_rules
from .load.signed import SignedCache, open_signed_cache
from .load.trend import Unloadable, VersionAnalyser, open_trend_cache
from .problems import Problem
from .progress import Progress, no_progress
from .render.colours import css_variables
from .render.pages import DiagramImage, GeneratedFile, PageMemo, SiteLayout, render_site

STYLESHEET = "tm-docs.css"
SCRIPT = "tm-docs.js"  # the full-screen diagram viewer
DIAGRAM_FILE = "dfd.svg"
PAGE_CACHE = "pages"  # the cache folder's signed pages
CHECKED_DIAGRAMS = "dfd-checked"  # signed notes of the diagrams that passed the check
MAX_PAGE_ENTRY_BYTES = 64 * 1024 * 1024  # the site-wide pages of a large site are one entry
ICON_FOLDER = "icons"  # beside the models' folders: SITE_ICON_FOLDER of the diagrams


class BuildError(Exception):
    """The site cannot be built: the message says why (models, rules, templates, Graphviz)."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Work:
    """What a build worked out afresh; everything else was reused from an earlier build
    of the same `Pipeline` (the models' files, analyses and pages did not change)."""

    loaded: tuple[str, ...] = ()  # model files parsed and validated
    analysed: tuple[str, ...] = ()  # model ids
    rendered: tuple[str, ...] = ()  # model ids whose pages were rendered
    drawn: tuple[str, ...] = ()  # model ids whose DOT source was built
    models: int = 0
    site_rendered: tuple[str, ...] = ()  # paths of the site-wide and owners' pages rendered
    site_pages: int = 0
    decided: tuple[str, ...] = ()  # model ids whose staleness verdict was worked out
    summarised: tuple[str, ...] = ()  # model ids whose part of the portfolio was made

    def __str__(self) -> str:
        n = self.models
        return (
            f"work: {len(self.loaded)} of {n} model file(s) loaded, {len(self.analysed)} "
            f"analysed, {len(self.rendered)} model page(s) rendered, "
            f"{len(self.site_rendered)} of {self.site_pages} site page(s) rendered, "
            f"{len(self.decided)} staleness verdict(s) and {len(self.summarised)} portfolio "
            "part(s) worked out, the rest reused"
        )


@dataclass(frozen=True)
class SiteBuild:
    """Every file of the threat-model section, and what the run found on the way."""

    layout: SiteLayout
    files: tuple[GeneratedFile, ...]
    report: Report
    staleness: dict[str, Staleness]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what was done, for the log
    model_pages: dict[str, LoadedModel] = field(default_factory=dict)  # page path -> model
    trends: Trends | None = None
    work: Work = field(default_factory=Work)

    @cached_property
    def paths(self) -> frozenset[str]:
        """The paths of every generated file (for a quick "is this ours?")."""
        return frozenset(f.path for f in self.files)

    def without_page_texts(self) -> SiteBuild:
        """This build without the text of its pages (paths, titles and the rest kept):
        what a `mkdocs build` keeps once MkDocs holds the pages itself."""
        files = tuple(replace(f, content="") if f.title is not None else f for f in self.files)
        return replace(self, files=files)

    def without_contents(self) -> SiteBuild:
        """This build without the bytes of any file (paths, titles and the rest kept):
        what a `mkdocs build` keeps once MkDocs holds the files itself."""
        files = tuple(replace(f, content="") for f in self.files)
        return replace(self, files=files)

    @property
    def pages(self) -> list[GeneratedFile]:
        """The files that are pages of the navigation, in their order."""
        return [f for f in self.files if f.title is not None]

    @property
    def stylesheet(self) -> str | None:
        path = self.layout.data_file(STYLESHEET)
        return path if any(f.path == path for f in self.files) else None


def load_checked(
    settings: Settings, memo: LoadMemo | None = None, progress: Progress = no_progress
) -> LoadResult:
    """The models of the configured folder; BuildError when any has an error."""
    try:
        result = load_models([settings.models_dir], settings.root, memo, progress)
    except ModelPathError:
        shown = os.path.relpath(settings.models_dir, settings.root)
        raise BuildError(
            f"the models folder '{shown}' does not exist; create it or set the 'models' option"
        ) from None
    if not result.ok:
        errors = result.errors
        raise BuildError(f"{len(errors)} problem(s) in the threat models", errors)
    return result


def report_of(
    settings: Settings,
    result: LoadResult,
    memo: AnalysisMemo | None = None,
    progress: Progress = no_progress,
    rule_memo: RuleMemo | None = None,
) -> Report:
    """The analysis of loaded models with the packaged and the repository's rules."""
    rules = load_rules(settings.rule_dirs, root=settings.root, memo=rule_memo)
    if rules.problems:
        raise BuildError("problems in the threat rules", rules.problems)
    return analyse(result.models, settings, rules, memo, progress)


class Pipeline:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Its memory is kept across serve rebuilds; the site stores each icon once.
        self._renderer = DiagramRenderer(site_icons=True)
        self._history: History | None = None
        # Each version of a model file is analysed once; kept across serve rebuilds.
        self._versions = VersionAnalyser(encode_point, decoder(settings.bands))
        self._said: set[str] = set()  # warnings said already (one per serve session)
        # Work done once: each model's loading, analysis, drawing and page, by content.
        self._loads = LoadMemo()
        self._analyses = AnalysisMemo()
        self._verdicts = StalenessMemo()
        self._rules = RuleMemo()
        self._pages = PageMemo()
        self._drawings = DrawingMemo()
        self._icons = SiteIcons()
        self.progress: Progress = no_progress  # how far a build is, for a terminal

    def configure(self, settings: Settings) -> None:
        """New settings for the next build (a `mkdocs serve` rebuild); caches are kept
        when they still apply."""
        if settings.root != self.settings.root:
            self._history = None
        self.settings = settings

    def _diagram_cache(self) -> tuple[CacheFolder | None, list[str]]:
        """The disk cache of diagrams, checked on every build (a folder fixed during
        `mkdocs serve` is used again), or why it is not used."""
        settings = self.settings
        if settings.cache_dir is None or not settings.diagrams:
            return None, []
        opened = open_diagram_cache(
            settings.root, os.path.relpath(settings.cache_dir, settings.root)
        )
        if isinstance(opened, CacheRefused):
            return None, [str(opened)]
        return opened, []

    def _signed_cache(self, kind: str, max_bytes: int) -> tuple[SignedCache | None, list[str]]:
        """A signed cache of the cache folder (opened on every build: a folder fixed during
        `mkdocs serve` is used again), or None and why the folder is not used."""
        settings = self.settings
        if settings.cache_dir is None:
            return None, []
        opened = open_signed_cache(
            settings.root,
            os.path.relpath(settings.cache_dir, settings.root),
            kind,
            max_bytes=max_bytes,
        )
        if isinstance(opened, CacheRefused):
            return None, [str(opened)]
        return opened, []

    def _page_cache(self) -> list[str]:
        """Give the page memo the signed disk cache of pages (opened on every build), or
        say why the cache folder is not used."""
        self._pages.disk, refused = self._signed_cache(PAGE_CACHE, MAX_PAGE_ENTRY_BYTES)
        return refused

    def history(self, *, models_only: bool = False) -> History | Unavailable:
        """The git history of the project, read once and reused while HEAD does not move.

        `models_only`: only the model files' history is needed (the risk trend without
        staleness), which git gives faster."""
        within = self.settings.models_dir if models_only else None
        history = read_history(self.settings.root, self._history, within=within)
        self._history = history if isinstance(history, History) else None
        return history

    def staleness(
        self,
        models: Sequence[LoadedModel],
        *,
        since: dt.datetime | None = None,
        always: bool = False,
        history: History | Unavailable | None = None,
    ) -> tuple[dict[str, Staleness], list[str]]:
        """Each model's staleness verdict, and the warning when history is unavailable.

        `always`: also when the site turns staleness off (`tm-docs stale` asks anyway).
        `history`: as read for this build already.
        """
        if not (self.settings.staleness or always):
            return {}, []
        if history is None:
            history = self.history()
        warnings = []
        if isinstance(history, Unavailable):
            warnings.append(f"stale models cannot be found: {history.reason}")
        verdicts = {
            m.model.id: staleness(
                m,
                history,
                max_age_days=self.settings.max_age_days,
                since=since,
                memo=self._verdicts,
            )
            for m in models
        }
        return verdicts, warnings

    def stale_models(
        self, models: Sequence[LoadedModel], *, since: dt.datetime | None = None
    ) -> tuple[list[tuple[LoadedModel, Staleness]], list[str]]:
        """Every model with its verdict, in the site's order (most behind first), and the
        warning when history is unavailable: what `tm-docs stale` shows."""
        found, warnings = self.staleness(models, since=since, always=True)
        by_id = {m.model.id: m for m in models}
        return [(by_id[model_id], v) for model_id, v in most_behind_first(found)], warnings

    def trends(
        self,
        report: Report,
        verdicts: Mapping[str, Staleness] | None = None,
        *,
        since: dt.datetime | None = None,
        models: Sequence[str] | None = None,
        history: History | Unavailable | None = None,
    ) -> tuple[Trends, list[str], list[str]]:
        """The risk trend of each model (of `models`, default all) and of the site,
        with notes for the log and warnings.  `history`: as read for this build already
        (default: the model files' history alone).  `verdicts`: the staleness verdicts,
        whose review points mark the time line (a model without one: its review point)."""
        settings = self.settings
        chosen = [m for m in report.models if models is None or m.model.id in models]
        if history is None:
            history = self.history(models_only=True)
        reason = None
        if isinstance(history, Unavailable):
            reason = history.unknown("the risk trend")
        warnings: list[str] = []
        if isinstance(history, History):
            self._versions.cache = None
            if settings.cache_dir is not None:
                opened = open_trend_cache(
                    settings.root, os.path.relpath(settings.cache_dir, settings.root)
                )
                self._versions.cache = opened if isinstance(opened, SignedCache) else None
                warnings += [str(opened)] if isinstance(opened, CacheRefused) else []
            revisions = {}
            for m in chosen:
                path = history.relative(m.loaded.path)
                revisions[m.model.id] = history.revisions(path) if path is not None else []
            # Shared by this trend's versions; a version that is a file the build loaded
            # takes the parts of its point from the build's analysis.
            parts = PointParts(settings, report.rules, report)
            loaded = {m.loaded.digest: m.loaded for m in report.models if m.loaded.digest}
            try:
                results = self._versions.results(
                    history.root,
                    [r for found in revisions.values() for r in found],
                    fingerprint(settings, report.rules, __version__),
                    parts.point,
                    loaded,
                )
            except GitError as exc:
                reason = (
                    f"git could not read the model files' versions ({exc}), so the risk "
                    "trend is unknown"
                )
            else:
                # The review point marks each line: the verdict's, or (staleness turned
                # off, or not asked) the same point asked of the history directly.
                now = dt.datetime.now(dt.timezone.utc)
                reviews = {
                    m.model.id: verdict.review_time
                    if (verdict := (verdicts or {}).get(m.model.id)) is not None
                    else review_point(m.loaded, history, now=now, memo=self._verdicts).time
                    for m in chosen
                }
                by_blob: dict[str, Result] = {
                    blob: r.reason if isinstance(r, Unloadable) else r
                    for blob, r in results.items()
                }
                trends = {
                    m.model.id: model_trend(
                        m.model.id,
                        m.model.title,
                        revisions[m.model.id],
                        by_blob,
                        history,
                        reviews.get(m.model.id),
                    )
                    for m in chosen
                }
                stats = self._versions.stats
                notes = [
                    f"risk trend: {stats.analysed} model versions analysed, "
                    f"{stats.from_build} from the build's own analysis, "
                    f"{stats.from_memory + stats.from_disk} from the cache"
                ]
                # The site counts every model's state at `since`, so its trend comes first.
                site = site_trend(list(trends.values()), settings.bands, since)
                shown = {model_id: t.since(since) for model_id, t in trends.items()}
                return Trends(shown, tuple(site)), notes, warnings
        assert reason is not None
        unknown = {m.model.id: unknown_trend(m.model.id, m.model.title, reason) for m in chosen}
        return Trends(unknown, unknown=reason), [], [*warnings, reason]

    def _start_diagrams(
        self, models: Sequence[LoadedModel]
    ) -> tuple[Layouts | None, dict[str, DrawnDiagram], list[str]]:
        """Draw each model's DOT source and start laying out those not cached, in `dot`
        processes that run while the build goes on; the layouts, the drawings by model
        id, and warnings about the cache folder.  `_finish_diagrams` collects them."""
        self._drawings.start()
        if not self.settings.diagrams:
            return None, {}, []
        self._renderer.cache, warnings = self._diagram_cache()
        self._renderer.checked = None
        if self._renderer.cache is not None:
            checked = open_signed_cache(
                self.settings.root,
                os.path.relpath(self._renderer.cache.top, self.settings.root),
                CHECKED_DIAGRAMS,
                max_bytes=4096,
            )
            self._renderer.checked = checked if isinstance(checked, SignedCache) else None
        link_base = "./" if self.settings.use_directory_urls else "index.html"
        self._drawings.disk, drawing_warnings = self._signed_cache(DRAWING_CACHE, MAX_DRAWING_BYTES)
        drawn: dict[str, DrawnDiagram] = {}

        def drawings() -> Iterator[tuple[str, DrawnDiagram]]:
            # Each layout starts as soon as its source is drawn, while the next is drawn.
            for loaded in models:
                drawn[loaded.model.id] = self._drawings.drawing(
                    loaded.model, loaded.digest, self.settings.bands, link_base
                )
                yield loaded.model.id, drawn[loaded.model.id]

        try:
            layouts = self._renderer.start(drawings())
        except GraphvizError as exc:  # no Graphviz to start: said before any layout
            raise BuildError(
                f"cannot draw the data-flow diagrams: {exc} (or set 'diagrams: false' in the "
                "tm-docs plugin options)"
            ) from None
        self._drawings.prune()
        return layouts, drawn, warnings + drawing_warnings

    def _finish_diagrams(
        self, layouts: Layouts | None, drawn: Mapping[str, DrawnDiagram], models: Mapping[str, str]
    ) -> tuple[dict[str, bytes], dict[str, str], list[str]]:
        """The SVG of each model's diagram (waiting for the layouts still running), the
        icon files they show (by name in the site's icon folder) and notes for the log.
        `models`: each model id's file as shown in messages."""
        if layouts is None:
            return {}, {}, []
        try:
            svgs = layouts.wait(self.progress)
        except LayoutFailed as exc:
            raise BuildError(
                f"cannot draw the data-flow diagram of model '{exc.name}' "
                f"({models.get(exc.name, exc.name)}): {exc} (or set 'diagrams: false' in the "
                "tm-docs plugin options)"
            ) from None
        stats = self._renderer.stats
        notes = [
            f"data-flow diagrams: {stats.drawn} drawn, {stats.cached} from the cache; "
            f"{len(self._drawings.drawn)} graph(s) built"
        ]
        if stats.rejected:
            notes.append(
                f"{len(stats.rejected)} cached diagram(s) failed the safety check and were "
                f"drawn again ({'; '.join(stats.rejected)})"
            )
        removed = self._renderer.prune()
        if removed:
            notes.append(f"{removed} unused diagram(s) removed from the cache")
        icons = {name: path for d in drawn.values() for name, path in d.icon_files().items()}
        return svgs, icons, notes

    def build(self) -> SiteBuild:
        """Load, analyse, draw, read staleness and render: every file of the section."""
        settings = self.settings
        self._loads.disk, load_warnings = self._signed_cache(MODEL_CACHE, MAX_MODEL_ENTRY_BYTES)
        result = load_checked(settings, self._loads, self.progress)
        # Graphviz lays the diagrams out in processes of its own while this thread
        # analyses, reads history and renders: collected where the pages need them.
        layouts, drawn, cache_warnings = self._start_diagrams(result.models)
        try:
            return self._build(result, layouts, drawn, cache_warnings + load_warnings)
        finally:
            if layouts is not None:
                layouts.close()  # a failed build stops its layouts (a no-op after wait)

    def _build(
        self,
        result: LoadResult,
        layouts: Layouts | None,
        drawn: Mapping[str, DrawnDiagram],
        cache_warnings: list[str],
    ) -> SiteBuild:
        settings = self.settings
        warnings = [str(p) for p in result.problems if not p.is_error]
        if not result.models:
            warnings.append(f"no model files (*.yaml, *.yml) in {settings.models_dir.name}")
        self._analyses.disk, analysis_warnings = self._signed_cache(
            ANALYSIS_CACHE, MAX_ANALYSIS_ENTRY_BYTES
        )
        cache_warnings += analysis_warnings
        report = report_of(settings, result, self._analyses, self.progress, self._rules)
        if self._analyses.disk is not None:
            self._analyses.disk.prune(self._analyses.used)  # keep what this build used
        warnings += [str(w) for w in report.warnings]
        cache_warnings += self._page_cache()
        self._icons.disk, icon_warnings = self._signed_cache(ICON_CACHE, MAX_ICON_ENTRY_BYTES)
        cache_warnings += icon_warnings
        # History is read once per build, also when it cannot be read: staleness and the
        # trend share the one `git log` pass (the trend reads only the versions' contents).
        history = self.history(models_only=not settings.staleness)
        self._verdicts.start()  # keeps what this build's verdicts and trend ask for
        verdicts, stale_warnings = self.staleness(result.models, history=history)
        trends, trend_notes, trend_warnings = self.trends(report, verdicts, history=history)
        self._verdicts.finish()
        shown = {m.model.id: m.display_path for m in result.models}
        svgs, icons, notes = self._finish_diagrams(layouts, drawn, shown)
        notes += trend_notes
        if trends.unknown is None:
            self._versions.prune()  # keep what this build used, in memory and on disk
        else:
            # History cannot be read: the staleness warning says why and what to do; a
            # site that turned staleness off gets no warning, its pages say that the
            # trend is unknown.
            trend_warnings = [w for w in trend_warnings if w != trends.unknown]
        # Said once while the reason stays the same (mkdocs serve rebuilds often); the
        # diagrams and the trend share the cache folder, and a refusal of it is said once.
        once = list(dict.fromkeys([*cache_warnings, *stale_warnings, *trend_warnings]))
        warnings += [w for w in once if w not in self._said]
        self._said.update(once)
        layout = SiteLayout(root=settings.site_path)
        try:
            pages = render_site(
                report,
                layout,
                template_dirs=settings.template_dirs,
                diagrams={
                    model_id: DiagramImage(DIAGRAM_FILE, *natural_size(svg), smallest_font(svg))
                    for model_id, svg in svgs.items()
                },
                staleness=verdicts,
                memo=self._pages,
                progress=self.progress,
                trends=trends,
            )
        except TemplateError as exc:
            raise BuildError(f"a page template failed: {exc}") from None
        if self._pages.disk is not None:
            self._pages.disk.prune(self._pages.used)  # keep what this build used
        files = list(pages)
        if settings.stylesheet:
            for name in (STYLESHEET, SCRIPT):
                text = resources.files("tm_docs").joinpath("assets", name).read_text()
                if name == STYLESHEET:
                    text = css_variables() + text
                files.append(GeneratedFile(layout.data_file(name), text))
        for model_id, svg in sorted(svgs.items()):
            folder = posixpath.dirname(layout.model_page(model_id))
            files.append(GeneratedFile(f"{folder}/{DIAGRAM_FILE}", svg))
        for name, data in self._icons.files(icons).items():
            files.append(GeneratedFile(layout.data_file(f"{ICON_FOLDER}/{name}"), data))
        self._icons.prune()  # keep what this build used
        if self._icons.encoded:
            notes.append(f"{len(self._icons.encoded)} icon file(s) encoded as WebP")
        notes.append(f"{len(result.models)} threat models, {len(files)} generated files")
        work = Work(
            loaded=tuple(self._loads.loaded),
            analysed=tuple(self._analyses.analysed),
            rendered=tuple(self._pages.rendered),
            drawn=tuple(self._drawings.drawn),
            models=len(result.models),
            site_rendered=tuple(self._pages.site_rendered),
            site_pages=self._pages.site_pages,
            decided=tuple(self._verdicts.decided) if settings.staleness else (),
            summarised=tuple(self._analyses.portfolio.made),
        )
        notes.append(str(work))
        return SiteBuild(
            layout=layout,
            files=tuple(files),
            report=report,
            staleness=verdicts,
            warnings=tuple(warnings),
            notes=tuple(notes),
            model_pages={layout.model_page(m.model.id): m for m in result.models},
            work=work,
            trends=trends,
        )


def build_site(settings: Settings) -> SiteBuild:
    """One build with fresh state: what `tm-docs generate` and tests use."""
    return Pipeline(settings).build()


def review(settings: Settings, base: str, head: str | None) -> ReviewResult:
    """What the change from `base` to `head` (default: the working tree) does to the
    models: read both sides from git, with the same rules as `check` and the site."""
    rules = load_rules(settings.rule_dirs, root=settings.root)
    if rules.problems:
        raise BuildError("problems in the threat rules", rules.problems)
    models_dir = settings.models_dir
    change = resolve_change(models_dir, base, head)
    before = snapshot_at(change.root, models_dir, change.base, base)
    after = (
        snapshot_at(change.root, models_dir, change.head, head)
        if head and change.head
        else snapshot_worktree(models_dir, settings.root)
    )
    changed = changed_files(change)
    return compare(before, after, changed, settings.bands, rules.rules)


ADDED_COLOR = "#2E7D32"
REMOVED_COLOR = "#C62828"


def review_diagrams(result: ReviewResult, settings: Settings) -> dict[str, bytes]:
    """Before/after diagrams of each changed model (added elements green, removed red),
    by file name."""
    renderer = DiagramRenderer()
    pictures = {}
    for model_diff in result.changed:
        added = {c.id: ADDED_COLOR for c in model_diff.changes if c.action == "added"}
        removed = {c.id: REMOVED_COLOR for c in model_diff.changes if c.action == "removed"}
        for label, snapshot, marks in (
            ("before", result.before, removed),
            ("after", result.after, added),
        ):
            entry = snapshot.models.get(model_diff.model_id) if snapshot else None
            if entry is None:
                continue
            drawn = draw(entry[0], settings.bands, highlight=marks)
            pictures[f"{model_diff.model_id}-{label}.svg"] = renderer.render(drawn)
    return pictures
