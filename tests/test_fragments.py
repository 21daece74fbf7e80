"""Pure macros remembered once per `render_site` call (`pages.Fragments`): the same text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from benchmarks.portfolio_repo import model_text
from tm_docs.analysis.settings import Settings
from tm_docs.load.models import load_models
from tm_docs.pipeline import report_of
from tm_docs.render import pages
from tm_docs.render.pages import Fragments, environment, render_site

from .conftest import EXAMPLE_MODELS

_SOURCE = (
    "{% macro show(v) %}[{{ v }}]{% endmacro %}{% set show = remember(show) %}"
    "{% macro title(v) %}<{{ v.title }}>{% endmacro %}{% set title = remember(title, 'title') %}"
    "{% for v in values %}{{ show(v) }}{{ show(v) }}{{ title(v) }}|{% endfor %}"
)


class _Titled:
    def __init__(self, title: Any) -> None:
        self.title = title


_VALUE = st.one_of(
    st.sampled_from([1, 1.0, True, 0, False, 0.0, None, "1", "a<b", Markup("a<b"), "", Markup()]),
    st.lists(st.integers(max_value=3), max_size=2),  # cannot be hashed: made each time
    st.text(alphabet="a<&*1", max_size=3),
)


@given(values=st.lists(_VALUE, max_size=10))
@settings(max_examples=300, deadline=None)
def test_a_remembered_macro_writes_what_the_macro_writes(values: list[Any]) -> None:
    """Equal arguments of other types (1, 1.0 and True; a str and Markup of one text) are
    written differently by a template, so a remembered macro keeps them apart."""
    template = environment().from_string(_SOURCE)
    titled = [_Titled(v) for v in values]
    expected = template.render(values=titled)  # the environment's `remember`: no memo
    fragments = Fragments()
    assert template.render(values=titled, remember=fragments) == expected
    assert template.render(values=titled, remember=fragments) == expected  # again, all made


def test_macros_of_one_name_in_two_templates_are_remembered_apart() -> None:
    fragments = Fragments()
    first = environment().from_string(
        "{% macro m(v) %}one {{ v }}{% endmacro %}{% set m = remember(m) %}{{ m(1) }}"
    )
    second = environment().from_string(
        "{% macro m(v) %}two {{ v }}{% endmacro %}{% set m = remember(m) %}{{ m(1) }}"
    )
    assert first.render(remember=fragments) == "one 1"
    assert second.render(remember=fragments) == "two 1"


def test_the_site_macros_are_remembered_and_the_pages_are_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every page of the example models and of generated ones, split per owner, is the same
    text with the site's pure macros remembered as without."""
    for index in range(6):
        (tmp_path / f"gen-{index}.yaml").write_text(model_text(index, 1), encoding="utf-8")
    result = load_models([EXAMPLE_MODELS, tmp_path])
    assert len(result.models) > 6
    report = report_of(Settings(owner_pages_from=2), result)

    made: list[int] = []

    class Counted(Fragments):
        def __call__(self, macro: Any, *reads: str) -> Any:
            made.append(1)
            return super().__call__(macro, *reads)

    monkeypatch.setattr(pages, "Fragments", Counted)
    remembered = [(f.path, f.content) for f in render_site(report)]
    assert made  # the site's templates remember their pure macros
    monkeypatch.setattr(pages, "Fragments", lambda: pages._unchanged)
    assert [(f.path, f.content) for f in render_site(report)] == remembered


def test_the_site_templates_call_functions_as_jinja_does() -> None:
    """The site's context skips Jinja's look for `pass_context` on macros, plain functions,
    methods and built-ins: a callable that takes the context, the environment or the
    evaluation context still gets it, in a loop too, and one that raises StopIteration
    still gives an undefined value."""
    from jinja2 import Environment, pass_context, pass_environment, pass_eval_context

    from tm_docs.render.escape import plain

    @pass_context
    def with_context(context: Any, value: Any) -> str:
        return f"{context['who']}:{value}"

    @pass_environment
    def with_environment(env: Any, value: Any) -> str:
        return f"{env.autoescape}:{value}"

    @pass_eval_context
    def with_eval_context(eval_ctx: Any, value: Any) -> str:
        return f"{eval_ctx.autoescape}:{value}"

    class Taking:
        @pass_context
        def __call__(self, context: Any, value: Any) -> str:
            return f"object {context['who']}:{value}"

        @pass_context
        def method(self, context: Any, value: Any) -> str:
            return f"method {context['who']}:{value}"

        def plain(self, value: Any) -> str:
            return f"plain <{value}>"

    def stops() -> None:
        raise StopIteration

    source = (
        "{% macro m(v) %}({{ with_context(v) }}){% endmacro %}"
        "{{ with_context(1) }} {{ with_environment(2) }} {{ with_eval_context(3) }} "
        "{{ taking(4) }} {{ taking.method(5) }} {{ taking.plain(6) }} {{ m(7) }} "
        "{{ stops() is undefined }} {{ 'a,b'.split(',') | join('+') }} {{ len([1, 2]) }}"
        "{% for i in [8, 9] %}{% set who = 'loop' %} {{ with_context(i) }} {{ m(i) }}{% endfor %}"
    )
    names = {
        "with_context": with_context,
        "with_environment": with_environment,
        "with_eval_context": with_eval_context,
        "taking": Taking(),
        "stops": stops,
        "len": len,
        "who": "page",
    }
    stock = Environment(autoescape=True, finalize=plain).from_string(source).render(names)
    site = environment().from_string(source).render(names)
    assert site == stock
    assert "loop:8" in site and "object page:4" in site and "method page:5" in site
