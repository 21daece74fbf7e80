"""The `tm-docs` command line as users run it."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tm_docs.cli import main

from .conftest import EXAMPLE_MODELS, TYPO_IN_DESTINATION

F_SETPIPE_SZ = 1031  # Linux: set the capacity of a pipe


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("tm-docs", path=str(Path(sys.executable).parent)) or "tm-docs"
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_validate_example_models_from_the_installed_command(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE_MODELS, tmp_path / "models")
    count = len(list((tmp_path / "models").glob("*.yaml")))
    proc = run("validate", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == f"{count} models OK\n"


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path) -> None:
    # `tm-docs backlog | head -1`: the reader goes away after the first line while the
    # command still has lines to write; it stops without an "internal error".
    shutil.copytree(EXAMPLE_MODELS, tmp_path / "models")
    exe = shutil.which("tm-docs", path=str(Path(sys.executable).parent)) or "tm-docs"
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, F_SETPIPE_SZ, 4096)  # smaller than the backlog, so writes block
    writer = subprocess.Popen(
        [exe, "backlog"], cwd=tmp_path, stdout=write_end, stderr=subprocess.PIPE
    )
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        assert reader.readline().startswith(b"owner: ")
    assert writer.stderr is not None
    error = writer.stderr.read().decode()
    assert writer.wait(timeout=60) == 141
    assert error == ""


def test_invalid_model_exits_1_with_file_line_column(write_model, monkeypatch) -> None:
    path = write_model(TYPO_IN_DESTINATION)
    monkeypatch.chdir(path.parent.parent)
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 1
    assert result.stdout == (
        "models/example.yaml:12:18: flow 'f3': destination 'order-svc' is not a component "
        "of this model (did you mean 'order-service'?)\n"
    )
    assert result.stderr == "1 error in 1 file (1 checked)\n"


@pytest.mark.parametrize(
    "args",
    [["validate", "no-such-folder"], ["validate", "--format", "xml"], ["no-such-command"]],
)
def test_usage_errors_exit_2(args: list[str], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_folder_without_models_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(tmp_path)])
    assert result.exit_code == 2
    assert "no model files (*.yaml, *.yml) found" in result.stderr


def test_json_report(write_model) -> None:
    path = write_model("impact: 3\n")
    result = CliRunner().invoke(main, ["validate", "--format", "json", str(path)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["models"] == []
    (problem,) = report["problems"]
    assert (problem["line"], problem["column"], problem["severity"]) == (5, 1, "error")
    assert problem["message"].startswith("unknown key 'impact'")


def test_github_annotations_escape_message_and_properties(write_model) -> None:
    path = write_model("title: 100%\n", name="a,b.yaml")
    result = CliRunner().invoke(main, ["validate", "--format", "github", str(path)])
    assert result.exit_code == 1
    first = result.stdout.splitlines()[0]
    assert first.startswith("::error file=")
    assert "a%2Cb.yaml,line=5,col=1,title=tm-docs validate::duplicate key 'title'" in first


def test_bad_input_never_shows_a_traceback(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "binary.yaml").write_bytes(bytes(range(256)))
    (models / "dir.yaml").mkdir()  # a folder named like a model file
    (models / "list.yaml").write_text("- 1\n- 2\n")
    (models / "scalar.yaml").write_text("just text\n")
    proc = run("validate", cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert len(proc.stdout.splitlines()) == 3


def test_version_option() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.startswith("tm-docs, version ")
