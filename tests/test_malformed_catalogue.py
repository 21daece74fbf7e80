"""The catalogue of malformed models: every case reports exactly the expected problems.

Each file in tests/malformed/ is a small broken model; tests/malformed-expected.txt
holds, for each, the exact `file:line:column: message` lines `tm-docs validate`
must print for it.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from click.testing import CliRunner

from tm_docs.cli import main
from tm_docs.load.models import load_file

CATALOGUE = Path(__file__).parent / "malformed"
EXPECTED_FILE = Path(__file__).parent / "malformed-expected.txt"


def _expected() -> dict[str, list[str]]:
    expected: dict[str, list[str]] = defaultdict(list)
    for line in EXPECTED_FILE.read_text(encoding="utf-8").splitlines():
        name, rest = line.split(":", 1)
        expected[name].append(rest)
    return expected


EXPECTED = _expected()
CASES = sorted(p.name for p in CATALOGUE.glob("*.yaml"))


def test_catalogue_is_complete() -> None:
    assert len(CASES) >= 30
    assert set(CASES) == set(EXPECTED), "every case needs expected lines, and only cases have them"


@pytest.mark.parametrize("name", CASES)
def test_case_reports_exact_location_and_message(name: str) -> None:
    model, problems = load_file(CATALOGUE / name, name)
    assert model is None
    got = sorted(str(p).split(":", 1)[1] for p in problems)
    assert got == sorted(EXPECTED[name])


def test_validate_reports_every_case_in_one_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CATALOGUE)
    result = CliRunner().invoke(main, ["validate", "."])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == EXPECTED_FILE.read_text(encoding="utf-8").splitlines()
    assert f"in {len(CASES)} files ({len(CASES)} checked)" in result.stderr
