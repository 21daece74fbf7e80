"""The generated pages of a threat-model site, as Markdown text and data files.

Nothing here knows MkDocs: `render_site` returns paths and contents that the
MkDocs plugin serves from memory and that the command line writes to disk for
any other Markdown site generator.
"""

from __future__ import annotations

import hashlib
import math
import operator
import posixpath
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from types import BuiltinFunctionType, BuiltinMethodType, FunctionType, MethodType
from typing import Any

import yaml
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import Expr
from jinja2.runtime import Context, Macro
from jinja2.utils import _PassArg, internalcode
from markupsafe import Markup, escape

from .. import __version__
from ..analysis.report import Report
from ..analysis.staleness import Staleness, last_review, most_behind_first
from ..analysis.trend import Trends
from ..load.models import LoadedModel
from ..load.signed import ContentKeys, SignedCache, code_digest, content_key
from ..model import (
    AssetKind,
    Classification,
    ComponentKind,
    MitigationStatus,
    Stride,
    Threat,
    ThreatModel,
    ThreatStatus,
)
from ..progress import Progress, no_progress
from .escape import inline_html, markdown_html, plain, plain_html, safe_url
from .exports import BacklogTexts, backlog_csv, backlog_json, controls_csv, controls_json
from .trend_chart import MAX_ROWS, model_chart, newest_first, site_chart
from .views import (
    SHORT_LIST,
    SUMMARY_ROWS,
    ModelView,
    SiteView,
    backlog_anchor,
    legend,
    owner_slug,
)

_SAFE_ANCHOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

# What each STRIDE category means, introducing its section on every page.
STRIDE_MEANING: dict[Stride, str] = {
    Stride.SPOOFING: "Pretending to be someone or something else: a forged or replayed token, "
    "a stolen credential, a caller whose identity is never checked.",
    Stride.TAMPERING: "Changing data or code without authority: in transit, at rest, "
    "or in a message queue.",
    Stride.REPUDIATION: "Acting without leaving a trustworthy trace, so that a sensitive action "
    "cannot be attributed or proven later.",
    Stride.INFORMATION_DISCLOSURE: "Exposing data to those who should not see it: sensitive "
    "fields in responses, logs, errors or backups.",
    Stride.DENIAL_OF_SERVICE: "Making the system unavailable or too slow: exhausting resources, "
    "flooding queues, unbounded work per request.",
    Stride.ELEVATION_OF_PRIVILEGE: "Gaining rights one was not given, through flawed "
    "authorization checks or over-privileged components.",
}

LABELS: dict[Any, str] = {
    **{k: k.value.replace("_", " ") for k in ComponentKind},
    **{k: k.value.replace("_", " ") for k in AssetKind},
    **{k: k.value for k in Classification},
    **{k: k.value.replace("_", " ") for k in ThreatStatus},
    **{k: k.value.replace("_", " ") for k in MitigationStatus},
    AssetKind.SECRET: "encryption key / secret",
    AssetKind.CRITICAL_API: "critical API",
    AssetKind.ADMIN_INTERFACE: "administrative interface",
}


@dataclass(frozen=True)
class SiteLayout:
    """Where the generated pages live, relative to the docs folder."""

    root: str = "threat-models"

    # Model ids may not take these names (RESERVED_MODEL_IDS in the format).
    SITE_PAGES = (
        "index",
        "backlog",
        "heatmap",
        "stride",
        "assets",
        "coverage",
        "stale",
        "controls",
    )

    def page(self, name: str) -> str:
        return f"{self.root}/{name}.md"

    def model_page(self, model_id: str) -> str:
        return f"{self.root}/{model_id}/index.md"

    def data_file(self, name: str) -> str:
        return f"{self.root}/{name}"


@dataclass(frozen=True)
class GeneratedFile:
    path: str  # relative to the docs folder, with '/' separators
    content: str | bytes
    title: str | None = None  # for navigation, when the file is a page
    # False for a page reached from another page only (an owner's part of a site-wide page).
    in_nav: bool = True


@dataclass(frozen=True)
class DiagramImage:
    """A rendered diagram beside a model page: its file name and natural size in pt."""

    src: str
    width: float
    height: float
    smallest_font: float = 9.0  # in the drawing's units

    # The smallest label must come out at least this many CSS pixels tall.
    READABLE_PX = 11.0

    # Wider than Material's content column (its 61rem grid, navigation and margins).
    COLUMN_PX = 900

    @property
    def wide(self) -> bool:
        """Whether the page should give the diagram the window's whole width."""
        return self.readable_width > self.COLUMN_PX

    @property
    def readable_width(self) -> int:
        """CSS pixels wide at which the smallest label is READABLE_PX."""
        # One unit more: the width in points is rounded, the drawing is not.
        return math.ceil((self.width + 1) * self.READABLE_PX / self.smallest_font)


def environment(template_dirs: Sequence[Path] = ()) -> Environment:
    """Jinja environment: user template folders first, then the package's templates.

    One per set of folders and process, so that a `mkdocs serve` rebuild does not compile
    the templates again; Jinja still reloads a template whose file changed."""
    return _environment(tuple(str(d) for d in template_dirs))


class _CodeGenerator(CodeGenerator):
    """Jinja's code, but a value a template writes is escaped by one call, `plain_html`,
    instead of `escape(environment.finalize(value))`: the same text (see `plain_html`),
    without two Markup objects made for each of a site's some 300,000 values."""

    def _output_child_pre(self, node: Expr, frame: Frame, finalize: Any) -> None:
        if (
            not frame.eval_ctx.volatile
            and frame.eval_ctx.autoescape
            and finalize.src == "environment.finalize("
            and self.environment.finalize is plain
        ):
            # Closed by the two parentheses `_output_child_post` writes with a finalize.
            self.write("environment.plain_html((")
        else:
            super()._output_child_pre(node, frame, finalize)


class _Context(Context):
    """Jinja's context, but a call of a macro, a remembered macro, a plain function or
    method, or a built-in skips Jinja's look for `pass_context` and its kin, which none of
    them can carry (a plain function is checked for it); any other callable takes Jinja's
    way.  A page calls some 120,000 of them."""

    @internalcode
    def call(__self, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        kind = __obj.__class__
        if kind is FunctionType:
            plain = "jinja_pass_arg" not in __obj.__dict__
        elif kind is MethodType:
            function = __obj.__func__
            plain = function.__class__ is FunctionType and "jinja_pass_arg" not in function.__dict__
        else:
            plain = kind in _CALLED_PLAINLY
        if not plain:
            return super().call(__obj, *args, **kwargs)
        if kwargs:
            kwargs.pop("_block_vars", None)
            kwargs.pop("_loop_vars", None)
        try:
            return __obj(*args, **kwargs)
        except StopIteration:
            return __self.environment.undefined(
                "value was undefined because a callable raised a StopIteration exception"
            )


class _Environment(Environment):
    code_generator_class = _CodeGenerator
    context_class = _Context
    plain_html = staticmethod(plain_html)


@lru_cache(maxsize=16)
def _environment(template_dirs: tuple[str, ...]) -> Environment:
    loaders = [FileSystemLoader(d) for d in template_dirs]
    env = _Environment(
        loader=ChoiceLoader([*loaders, PackageLoader("tm_docs", "templates")]),
        # Every value is escaped for Markdown *and* HTML by `plain` before
        # autoescape sees it; only Markup built here is inserted as it is.
        autoescape=True,
        finalize=plain,
        undefined=StrictUndefined,
        extensions=["jinja2.ext.do"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["markdown"] = markdown_html
    env.filters["inline"] = inline_html
    # One name per owner everywhere: the anchors of the backlog and the owners' pages.
    env.filters["slug"] = lambda owner: Markup(owner_slug(str(owner)))
    env.filters["url"] = safe_url
    env.filters["label"] = lambda value: LABELS.get(value, str(value))
    env.globals["STRIDE_MEANING"] = STRIDE_MEANING
    env.globals["Stride"] = Stride
    env.globals["version"] = __version__
    env.globals["most_behind_first"] = most_behind_first
    env.globals["last_review"] = last_review
    env.globals["newest_first"] = newest_first
    env.globals["max_rows"] = MAX_ROWS
    env.globals["short_list"] = SHORT_LIST
    env.globals["summary_rows"] = SUMMARY_ROWS
    env.globals["remember"] = _unchanged  # render_site gives each call a `Fragments`
    return env


class Fragments:
    """The fragments of one `render_site` call's pure macros, each made once per distinct
    arguments: a threat's risk badges and a status badge are written thousands of times for
    a few distinct values, on its model page and again on the site-wide pages.

    A template declares a macro pure with `{% set name = remember(name) %}`: its text then
    depends on its arguments alone, which must be hashable (not the page's links, nor
    anything else of the context).  `remember(name, "a.b", "c")` keys a one-argument macro
    by those attributes of its argument, the only ones it reads.  Keys hold each value's
    type too (3 and 3.0, or a str and Markup of the same text, are written differently).
    Made anew for each `render_site` call, so nothing is kept across builds; outside
    `render_site` (an environment global) `remember` gives the macro back unchanged."""

    def __init__(self) -> None:
        self._made: dict[Any, Any] = {}

    def __call__(self, macro: Any, *reads: str) -> Any:
        return _Remembered(self._made, macro, reads)


class _Remembered:
    __slots__ = ("_macro", "_made", "_name", "_reads")

    def __init__(self, made: dict[Any, Any], macro: Any, reads: tuple[str, ...]) -> None:
        self._made = made
        self._macro = macro
        self._reads = tuple(operator.attrgetter(read) for read in reads)
        # The macro's code, the same object for every page's import of one compiled template.
        code = getattr(getattr(macro, "_func", macro), "__code__", macro)
        self._name = (code, reads)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs or (self._reads and len(args) != 1):
            return self._macro(*args, **kwargs)
        values = [read(args[0]) for read in self._reads] if self._reads else args
        key = (self._name, *[(value.__class__, value) for value in values])
        try:
            return self._made[key]
        except KeyError:
            made = self._made[key] = self._macro(*args)
            return made
        except TypeError:  # an argument that cannot be hashed: made each time
            return self._macro(*args)


def _unchanged(macro: Any, *reads: str) -> Any:
    return macro


# Callables that never take a context (checked, in case a newer Jinja's Macro would).
_CALLED_PLAINLY = frozenset(
    kind
    for kind in (Macro, _Remembered, BuiltinFunctionType, BuiltinMethodType)
    if _PassArg.from_obj(kind.__call__) is None
)


class _Linker:
    """Relative Markdown links from one generated page to another."""

    def __init__(self, layout: SiteLayout, page: str) -> None:
        self.layout = layout
        self.page = page

    def to(self, target: str, anchor: str | None = None) -> Markup:
        rel = _relative(target, posixpath.dirname(self.page))
        return Markup(rel + (f"#{anchor}" if anchor else ""))

    def site(self, name: str, anchor: str | None = None) -> Markup:
        return self.to(self.layout.page(name), anchor)

    def data(self, name: str) -> Markup:
        return self.to(self.layout.data_file(name))

    def model(self, model: ThreatModel | str, anchor: str | None = None) -> Markup:
        model_id = model if isinstance(model, str) else model.id
        return self.to(self.layout.model_page(model_id), anchor)


@lru_cache(maxsize=65536)
def _relative(target: str, folder: str) -> str:
    return posixpath.relpath(target, folder)


@dataclass
class PageMemo:
    """Pages rendered before, kept across `mkdocs serve` rebuilds.

    A model page is kept by a hash of everything that goes into it (the model file's
    content, the settings, the rules, the templates, its diagram, staleness and trend).
    A site-wide page or an owner's page is kept with the view data it showed (`_shown`),
    and taken again while the new build's data is equal to it: an edit re-renders the
    pages that show what it changed, not all of them.  `rendered` names the model pages
    the last `render_site` rendered, `site_rendered` the other pages it rendered.

    With `disk`, pages are also kept in the project's cache folder, signed with the
    user's key, so that the next `mkdocs build` (a new process) renders only what
    changed.  A site-wide page, an owner's page or a data file is kept there by a hash of
    the view data it showed, in which a model and its elements stand for themselves by
    their file's hash (`_known_parts`): an edited model renders again the pages that show
    what it changed, in a new process as in `mkdocs serve`."""

    _pages: dict[str, GeneratedFile] = field(default_factory=dict)
    rendered: list[str] = field(default_factory=list)
    disk: SignedCache | None = None
    used: set[str] = field(default_factory=set)  # disk entries the last build used
    site_rendered: list[str] = field(default_factory=list)
    site_pages: int = 0  # site-wide and owners' pages of the last build
    # By page path: the data it showed, the page and its disk entry (None: not kept there).
    _shown: dict[str, tuple[Any, GeneratedFile, str | None]] = field(default_factory=dict)
    # By model id: what its page key was made of, and the key (hashed once while equal).
    _keys: dict[str, tuple[tuple[Any, ...], str]] = field(default_factory=dict)
    # The backlog exports' rows, by backlog item (an unchanged model's items are the same).
    backlog_texts: BacklogTexts = field(default_factory=BacklogTexts)
    # The content keys that last hashed view data (what they hashed is reused).
    content_keys: ContentKeys | None = None
    # The model views of the last build, by model id (each keeps what it worked out).
    views: dict[str, ModelView] = field(default_factory=dict)


def _same(earlier: Any, now: Any) -> bool:
    """Whether two builds' view data are the same: equal values of the same types (the
    view objects are frozen dataclasses and frozen models, compared field by field;
    unchanged models are the very same objects, so most comparisons end at once)."""
    if type(earlier) is not type(now):
        return False
    if isinstance(now, (tuple, list)):
        return len(earlier) == len(now) and all(map(_same, earlier, now))
    return bool(earlier == now)


def _stored_texts(memo: PageMemo | None, key: str | None, count: int) -> list[str] | None:
    """`count` texts stored under `key` in the memo's disk cache, or None."""
    if memo is None or memo.disk is None or key is None:
        return None
    found = memo.disk.get(key)
    if (
        not isinstance(found, list)
        or len(found) != count
        or not all(isinstance(text, str) for text in found)
    ):
        return None
    memo.used.add(key)
    return found


def _store_texts(memo: PageMemo | None, key: str | None, texts: list[str | bytes]) -> None:
    if memo is None or memo.disk is None or key is None:
        return
    if all(isinstance(text, str) for text in texts):
        memo.disk.put(key, texts)
        memo.used.add(key)


def _stored_index(memo: PageMemo | None, key: str | None) -> dict[str, str]:
    """The disk entries of the site-wide pages stored under `key`, by page path."""
    if memo is None or memo.disk is None or key is None:
        return {}
    found = memo.disk.get(key)
    if not isinstance(found, dict) or not all(
        isinstance(path, str) and isinstance(entry, str) for path, entry in found.items()
    ):
        return {}
    return found


def _known_parts(report: Report) -> ContentKeys:
    """The content keys of the site-wide pages kept on disk, in which each loaded model and
    its elements stand for themselves by the model file's hash and path and the element's
    place (a model is made from its file alone), each rule by its id, and each model's
    analysis by its model's name (it depends on the model, the rules and the settings
    alone; the rules and settings are in every such key: `base`)."""
    known: dict[int, str] = {id(rule): f"rule {rule.id}" for rule in report.rules.rules}
    for analysis in report.models:
        loaded = analysis.loaded
        if not loaded.digest:
            continue
        name = f"{loaded.digest} {loaded.display_path}"
        model = loaded.model
        known[id(loaded)] = known[id(model)] = name
        known[id(analysis)] = f"{name} analysis"
        for kind, elements in (
            ("boundary", model.boundaries),
            ("component", model.components),
            ("flow", model.flows),
            ("asset", model.assets),
            ("threat", model.threats),
            ("mitigation", model.mitigations),
        ):
            for element in elements:
                known[id(element)] = f"{name} {kind} {element.id}"
    return ContentKeys(known)


def _templates_digest(template_dirs: Sequence[Path]) -> str:
    """A hash of the site's own templates, so that editing one renders the pages again."""
    digest = hashlib.sha256(__version__.encode())
    for folder in template_dirs:
        for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
            if path.is_file() and not path.is_symlink():
                digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def anchor(kind: str, element_id: str) -> Markup:
    """The HTML id of an element on its model page, e.g. 'flow-f3'.

    Element ids are restricted to letters, digits, '-' and '_' by the format, so
    they go into ids and link targets as they are.
    """
    if not _SAFE_ANCHOR.match(element_id):
        raise ValueError(f"unsafe element id {element_id!r}")
    return Markup(f"{kind}-{element_id}")


def _front_matter(title: str, tags: Sequence[str], hide: Sequence[str] = ()) -> Markup:
    """YAML front matter with the page title and tags, HTML-escaped.

    MkDocs themes treat titles and tags as HTML and print them unescaped (in the
    navigation, the <title> element and the tag list), so model text must arrive
    there escaped.  The front matter is dumped by YAML, not templated, so any
    text stays one quoted string.
    """
    meta: dict[str, Any] = {"title": str(escape(title))}
    if tags:
        meta["tags"] = [str(escape(t)) for t in dict.fromkeys(tags)]
    if hide:  # Material's page layout switches, e.g. "toc" for a wide diagram
        meta["hide"] = list(hide)
    dumped = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False)
    return Markup(f"---\n{dumped}---\n\n")


def _threats_by_category(model: ThreatModel) -> list[tuple[Stride, list[Threat]]]:
    grouped = []
    for category in Stride:
        threats = [t for t in model.threats if category in t.categories]
        if threats:
            grouped.append((category, sorted(threats, key=lambda t: (-t.risk, t.id))))
    return grouped


# The site-wide pages in the order `render_site` returns them: name, title and the parts
# of Material's layout they hide (one wide table with few sections takes the table of
# contents' room).
_SITE_PAGES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("index", "Overview", ("toc",)),
    ("backlog", "Mitigation backlog", ("toc",)),
    ("heatmap", "Risk heatmap", ()),
    ("stride", "STRIDE threats", ()),
    ("assets", "Asset inventory", ("toc",)),
    ("coverage", "STRIDE coverage", ()),
    ("stale", "Stale models", ()),
    ("controls", "Controls", ()),
)


def _shown_on(site: SiteView, name: str, everything: Any, staleness: dict[str, Staleness]) -> Any:
    """The view data the site-wide page `name` shows, to compare with the last build's.

    A split site's long pages show a summary and a table of owners (each owner's rows are
    on pages of their own): exactly what those templates print of the views is listed
    here, so that an edit re-renders the summaries it shows in.  The other pages, and all
    of an unsplit site, show every model: `everything` (None: render always)."""
    portfolio = site.portfolio
    if everything is None:
        return None
    if name == "controls":
        return site.report.controls
    if name == "stale":
        return staleness, {m.model.id: m.model.title for m in portfolio.models}
    if not site.split:
        return everything
    owners = site.model_owners
    if name == "backlog":
        return (
            len(portfolio.backlog),
            [(item, site.rank(item)) for item in site.top_backlog],
            [
                (g.owner, g.slug, len(g.backlog), g.highest_backlog, site.rank(g.backlog[0]))
                for g in site.backlog_owners
            ],
        )
    if name == "heatmap":
        return [
            (c.impact, c.likelihood, c.band, len(c.threats), c.threats[:1], c.by_owner)
            for residual in (False, True)
            for row in site.heatmap(residual)
            for c in row
        ]
    if name == "stride":
        return (
            site.top_threats,
            len(portfolio.open_threats),
            len(portfolio.models),
            [(category, len(open), len(closed)) for category, open, closed in site.stride],
            [
                (g.owner, g.slug, len(g.models), len(g.open_threats), g.highest_threat)
                for g in owners
            ],
        )
    if name == "assets":
        return (
            len(portfolio.assets),
            len(portfolio.models),
            site.top_assets,
            [
                (g.owner, g.slug, [a.asset.classification for a in g.assets], g.highest_asset)
                for g in owners
            ],
        )
    if name == "coverage":
        reports = site.coverage_of(None)
        pending = site.untriaged_of(None)
        return (
            len(reports),
            reports[:SUMMARY_ROWS],
            [(g.owner, g.slug, len(g.models), least, n) for g, least, n in site.coverage_owners],
            len(pending),
            pending[:SUMMARY_ROWS],
        )
    return everything


def render_site(
    report: Report,
    layout: SiteLayout | None = None,
    *,
    template_dirs: Sequence[Path] = (),
    diagrams: dict[str, DiagramImage] | None = None,
    staleness: dict[str, Staleness] | None = None,
    memo: PageMemo | None = None,
    progress: Progress = no_progress,
    trends: Trends | None = None,
) -> list[GeneratedFile]:
    """All generated pages and data files of the threat-model section.

    With `memo`, a model page whose inputs are all unchanged is taken from it.
    """
    layout = layout or SiteLayout()
    portfolio = report.portfolio
    trends = trends or Trends({})
    charts = {
        model_id: model_chart(trend, portfolio.bands)
        for model_id, trend in trends.models.items()
        if trend.points
    }
    env = environment(template_dirs)
    fragments = Fragments()  # this call's pure macros' fragments (nothing kept across calls)
    site = SiteView(report, memo.views if memo is not None else None)
    files: list[GeneratedFile] = []
    kept: dict[str, GeneratedFile] = {}
    base = ""
    shown: dict[str, tuple[Any, GeneratedFile, str | None]] = {}
    keys_made: dict[str, tuple[tuple[Any, ...], str]] = {}
    if memo is not None:
        memo.rendered = []
        memo.site_rendered = []
        memo.used = set()
        templates = _templates_digest(template_dirs)
        # Whether the site is split per owner decides where a model page's backlog links go.
        base = content_key(
            report.settings, report.rules.rules, layout, site.split, templates, code_digest()
        )

    # The model pages' keys share their dataclasses' hashes: every model's trend holds the
    # commit that added it, and the first commit of a portfolio, which added every file,
    # holds a path and a blob for each of them; walked once per build, not once a model.
    page_parts = ContentKeys()

    def page_key(loaded: LoadedModel) -> str | None:
        if memo is None or not loaded.digest:
            return None
        model_id = loaded.model.id
        parts = (
            base,
            loaded.digest,
            loaded.display_path,
            (diagrams or {}).get(model_id),
            (staleness or {}).get(model_id),
            trends.models.get(model_id),
        )
        # Hashing a long trend costs more than comparing it with the last build's.
        earlier = memo._keys.get(model_id)
        key = earlier[1] if earlier is not None and _same(earlier[0], parts) else None
        keys_made[model_id] = (parts, key or content_key(*parts, keys=page_parts))
        return keys_made[model_id][1]

    def page(
        path: str,
        template: str,
        title: str,
        tags: Sequence[str] = (),
        hide: Sequence[str] = (),
        in_nav: bool = True,
        shows: Any = None,
        **context: Any,
    ) -> None:
        """Render a page; with `shows` (the view data it shows, None: unknown), take the
        last build's page again while that data is the same."""
        context.setdefault("owner", None)
        if memo is not None and shows is not None:
            shows = (shows, base, template, title, tuple(tags), tuple(hide), in_nav)
            earlier = memo._shown.get(path)
            if earlier is not None and _same(earlier[0], shows):
                files.append(earlier[1])
                shown[path] = earlier
                if earlier[2] is not None:
                    memo.used.add(earlier[2])  # still this page's entry on disk
                return
        stored_key = None
        if memo is not None and memo.disk is not None and shows is not None:
            stored_key = stored_keys.get(path) or _stored_key("site page", path, shows)
            stored = _stored_texts(memo, stored_key, 1)
            if stored is not None:
                files.append(GeneratedFile(path, stored[0], title, in_nav))
                shown[path] = (shows, files[-1], stored_key)
                return
        text = env.get_template(template).render(
            report=report,
            portfolio=portfolio,
            bands=portfolio.bands,
            link=_Linker(layout, path),
            anchor=anchor,
            front_matter=_front_matter(title, tags, hide),
            views=site,
            backlog_anchor=backlog_anchor,
            diagrams=diagrams or {},
            staleness=staleness or {},
            trends=trends,
            remember=fragments,
            **context,
        )
        files.append(GeneratedFile(path, text, title, in_nav))
        if memo is not None and shows is not None:
            _store_texts(memo, stored_key, [text])
            shown[path] = (shows, files[-1], stored_key if stored_key in memo.used else None)
        if memo is not None and template != "model.md.j2":
            memo.site_rendered.append(path)

    summaries = sorted(portfolio.summaries, key=lambda s: s.model.title.lower())
    keys = [page_key(summary.loaded) for summary in summaries]
    # The disk entries of the site-wide pages and data files, by a hash of what each shows.
    # An index of them is kept under a key of every model page's, so that a build in which
    # no model changed does not hash the view data at all.
    index_key = None
    if memo is not None and memo.disk is not None and None not in keys:
        index_key = content_key("site index", base, keys, trends.site, trends.unknown)
    stored_keys = _stored_index(memo, index_key)
    known: ContentKeys | None = None  # made when a first page's data is hashed

    def _stored_key(*parts: Any) -> str:
        nonlocal known
        if known is None:
            known = _known_parts(report)
            if memo is not None:
                if memo.content_keys is not None:
                    known.reuse(memo.content_keys)
                memo.content_keys = known
        return content_key(*parts, keys=known)

    # What a page that shows every model (or any of them) is made of.
    everything = None if None in keys else ("site", keys, trends.site, trends.unknown)

    def site_wide() -> None:
        for name, title, hide in _SITE_PAGES:
            extra: dict[str, Any] = {}
            if name == "index":
                extra["site_chart"] = (
                    site_chart(trends.site, portfolio.bands) if trends.site else None
                )
            page(
                layout.page(name),
                f"{name}.md.j2",
                title,
                hide=hide,
                shows=_shown_on(site, name, everything, staleness or {}),
                **extra,
            )
        if site.split:
            # A large portfolio: each owner's part of the long site-wide pages on a page of its
            # own, reached from the owners' table of the site-wide page, not from the navigation.
            # (The controls and stale pages hold a row per control or stale model: they stay whole.)
            for group in site.backlog_owners:
                ranks = tuple(site.rank(item) for item in group.backlog)  # site-wide places
                page(
                    layout.page(f"backlog/{group.slug}"),
                    "backlog.md.j2",
                    f"Mitigation backlog: {group.owner}",
                    hide=["toc"],
                    in_nav=False,
                    # What an owner's backlog page shows: its rows and their ranks.
                    shows=None
                    if everything is None
                    else (replace(group, models=(), open_threats=(), assets=()), ranks),
                    owner=group,
                )
            for group in site.model_owners:
                for name, template, title, hide in (
                    ("heatmap", "heatmap.md.j2", "Risk heatmap", ()),
                    ("stride", "stride.md.j2", "STRIDE threats", ()),
                    ("assets", "assets.md.j2", "Asset inventory", ("toc",)),
                    ("coverage", "coverage.md.j2", "STRIDE coverage", ()),
                ):
                    page(
                        layout.page(f"{name}/{group.slug}"),
                        template,
                        f"{title}: {group.owner}",
                        hide=hide,
                        in_nav=False,
                        # These pages show the owner's models, not its backlog.
                        shows=None if everything is None else replace(group, backlog=()),
                        owner=group,
                    )

    data_files = [
        layout.data_file(name)
        for name in ("backlog.csv", "backlog.json", "controls.csv", "controls.json")
    ]
    site_wide()
    site_count = len(files)
    for number, (summary, key) in enumerate(zip(summaries, keys, strict=True), 1):
        progress("rendering pages", number, len(summaries))
        model = summary.model
        if memo is not None and key is not None:
            earlier = memo._pages.get(key)
            if earlier is None:
                text = _stored_texts(memo, key, 1)
                if text is not None:
                    earlier = GeneratedFile(layout.model_page(model.id), text[0], model.title)
            if earlier is not None:
                files.append(earlier)
                kept[key] = earlier
                memo.used.add(key)
                continue
        categories = [c.label for c in Stride if any(c in t.categories for t in model.threats)]
        page(
            layout.model_page(model.id),
            "model.md.j2",
            model.title,
            tags=[model.owner, *categories],
            hide=["toc"] if model.id in (diagrams or {}) else [],
            summary=summary,
            view=site.models[model.id],
            legend=legend(model, portfolio.topology(model), portfolio.bands),
            model=model,
            links=portfolio.links(model),
            topology=portfolio.topology(model),
            elements=site.element_titles(model),
            threats_by_category=_threats_by_category(model),
            analysis=report.of(model),
            rated={t.id: portfolio.rated(model, t) for t in model.threats},
            trend=trends.models.get(model.id),
            trend_chart=charts.get(model.id),
        )
        if memo is not None and key is not None:
            kept[key] = files[-1]
            memo.rendered.append(model.id)
            _store_texts(memo, key, [files[-1].content])
    # The data files, by what each is made of; `made` as the function that makes it.
    backlog = (base, portfolio.bands, site.backlog)
    controls = (base, report.controls)
    makers: list[tuple[Any, Callable[[], str]]] = [
        (backlog, lambda: backlog_csv(portfolio, memo.backlog_texts if memo else None)),
        (backlog, lambda: backlog_json(portfolio, memo.backlog_texts if memo else None)),
        (controls, lambda: controls_csv(report.controls)),
        (controls, lambda: controls_json(report.controls)),
    ]
    texts: list[str | bytes] = []
    for path, (shows, made) in zip(data_files, makers, strict=True):
        last = memo._shown.get(path) if memo is not None and everything else None
        stored_key = None
        if memo is not None and last is not None and _same(last[0], shows):
            texts.append(last[1].content)
            stored_key = last[2]
            if stored_key is not None:
                memo.used.add(stored_key)  # still this file's entry on disk
        else:
            if memo is not None and memo.disk is not None and everything is not None:
                stored_key = stored_keys.get(path) or _stored_key("site data", path, shows)
            stored = _stored_texts(memo, stored_key, 1)
            texts.append(stored[0] if stored is not None else made())
            if stored is None:
                _store_texts(memo, stored_key, [texts[-1]])
            if memo is None or stored_key not in memo.used:
                stored_key = None
        shown[path] = (shows, GeneratedFile(path, texts[-1]), stored_key)
    if memo is not None and memo.disk is not None and index_key is not None:
        index = {path: entry[2] for path, entry in shown.items() if entry[2] is not None}
        if index != stored_keys:
            memo.disk.put(index_key, index)
        memo.used.add(index_key)
    if memo is not None:
        memo._pages = kept
        memo._keys = keys_made
        memo._shown = shown
        memo.views = site.models
        memo.site_pages = site_count
    files.extend(GeneratedFile(path, text) for path, text in zip(data_files, texts, strict=True))
    return files


def render_error_page(
    layout: SiteLayout, message: str, problems: Sequence[Any], template_dirs: Sequence[Path] = ()
) -> GeneratedFile:
    """The page `mkdocs serve` shows in place of the section while the models are broken."""
    path = layout.page("index")
    text = (
        environment(template_dirs)
        .get_template("error.md.j2")
        .render(
            front_matter=_front_matter("Threat models: errors", ()),
            message=message,
            problems=problems,
        )
    )
    return GeneratedFile(path, text, "Threat models: errors")


# A hand-written page that contains this line gets the list of models in its place.
MODEL_LIST_MARKER = "<!-- tm-docs: models -->"


def model_list(
    report: Report, layout: SiteLayout, page: str, template_dirs: Sequence[Path] = ()
) -> str:
    """The models, riskiest first, as a Markdown list for the hand-written page `page`."""
    return env_render(
        environment(template_dirs),
        "model_list.md.j2",
        views=SiteView(report),
        link=_Linker(layout, page),
        anchor=anchor,
        backlog_anchor=backlog_anchor,
        report=report,
    )


def env_render(env: Environment, template: str, **context: Any) -> str:
    return env.get_template(template).render(**context)
