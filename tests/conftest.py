from __future__ import annotations

import os
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

# The signing key of the page cache lives in the user's cache home: tests use one of
# their own (each test process), never the real user's.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="tm-docs-user-cache-")

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_MODELS = REPO / "models"

HEADER = """\
format_version: 1
id: {id}
title: Example
owner: team-a
"""


# A model body (after HEADER) whose flow names a component that does not exist.
TYPO_IN_DESTINATION = """\
components:
  - id: order-service
    title: Order service
    kind: process
flows:
  - id: f3
    source: order-service
    destination: order-svc
"""


@pytest.fixture
def write_model(tmp_path: Path) -> Callable[..., Path]:
    """Write a model file under tmp_path/models; `body` follows a valid header."""

    def write(body: str = "", *, name: str = "example.yaml", model_id: str = "example") -> Path:
        path = tmp_path / "models" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(HEADER.format(id=model_id) + textwrap.dedent(body), encoding="utf-8")
        return path

    return write
