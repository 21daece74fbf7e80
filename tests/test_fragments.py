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
