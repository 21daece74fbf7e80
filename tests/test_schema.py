"""The published JSON Schema: generated from the model classes, current, and useful."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from tm_docs.cli import main
from tm_docs.load.yaml_source import read_document
from tm_docs.schema import json_schema_text

from .conftest import EXAMPLE_MODELS, REPO

COMMITTED = REPO / "docs" / "schema" / "threat-model-v1.json"


def _validator() -> jsonschema.Draft202012Validator:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_committed_schema_is_current() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == json_schema_text(), (
        "docs/schema/threat-model-v1.json is out of date: run "
        "`tm-docs schema -o docs/schema/threat-model-v1.json`"
    )


def _as_json(path: Path) -> object:
    # The schema speaks JSON; YAML dates are written as ISO strings there.
    return json.loads(json.dumps(read_document(path, path.name).data, default=str))


@pytest.mark.parametrize("path", sorted(EXAMPLE_MODELS.glob("*.yaml")), ids=lambda p: p.name)
def test_example_models_validate_against_the_schema(path: Path) -> None:
    errors = list(_validator().iter_errors(_as_json(path)))
    assert errors == []


def test_schema_rejects_what_the_loader_rejects(write_model) -> None:
    path = write_model(
        """\
        components:
          - id: api
            title: API
            kind: proces
            colour: blue
        """
    )
    messages = sorted(e.message for e in _validator().iter_errors(_as_json(path)))
    assert any("'proces' is not one of" in m for m in messages)
    assert any("'colour' was unexpected" in m for m in messages)


def test_schema_carries_descriptions_for_editors() -> None:
    schema = json.loads(json_schema_text())
    component = schema["$defs"]["Component"]["properties"]
    assert "innermost trust boundary" in component["boundary"]["description"]
    assert schema["$defs"]["Stride"]["enum"] == [
        "spoofing",
        "tampering",
        "repudiation",
        "information_disclosure",
        "denial_of_service",
        "elevation_of_privilege",
    ]


def test_schema_command_writes_a_file(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    result = CliRunner().invoke(main, ["schema", "-o", str(out)])
    assert result.exit_code == 0
    assert out.read_text(encoding="utf-8") == json_schema_text()


def test_schema_knows_the_cross_field_rules(write_model) -> None:
    path = write_model(
        """\
        review:
          by: [alice]
        components:
          - {id: api, title: API, kind: process}
        threats:
          - id: T1
            title: Forged token
            categories: [spoofing]
            targets: [api]
            impact: 5
            likelihood: 4
            status: accepted
        """
    )
    errors = list(_validator().iter_errors(_as_json(path)))
    paths = sorted("/".join(map(str, e.absolute_path)) for e in errors)
    assert paths == ["review", "threats/0"]
