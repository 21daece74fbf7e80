"""The JSON Schema of the model format, generated from the model classes."""

from __future__ import annotations

import json
from typing import Any

from .model import FORMAT_VERSION, ThreatModel

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    schema = ThreatModel.model_json_schema()
    return {"$schema": SCHEMA_DIALECT, **schema, "x-tm-docs-format-version": FORMAT_VERSION}


def json_schema_text() -> str:
    """The schema as published: stable key order, two-space indents, final newline."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
