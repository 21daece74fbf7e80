"""The package is linted and type-checked as part of the test suite."""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, check=False
    )


def test_ruff_finds_nothing() -> None:
    proc = _run("ruff", "check", "tm_docs", "tests", "benchmarks")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = _run("ruff", "format", "--check", "tm_docs", "tests", "benchmarks")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict_passes() -> None:
    proc = _run("mypy", "tm_docs")
    assert proc.returncode == 0, proc.stdout + proc.stderr


# The layers of the package, lowest first: data flows up, imports only go down.
LAYERS = {
    "tm_docs.model": 0,  # the model format
    "tm_docs.problems": 0,
    "tm_docs.progress": 0,  # the callback long work reports through
    "tm_docs.schema": 0,
    "tm_docs.load": 1,  # reading files, rule files, git
    "tm_docs.analysis": 2,  # pure functions of the loaded data
    "tm_docs.dfd": 3,  # drawing
    "tm_docs.render": 3,  # pages, reports, output channels
    "tm_docs.interop": 3,
    "tm_docs.pipeline": 4,  # one run behind every face
    "tm_docs.config": 5,  # the faces
    "tm_docs.plugin": 5,
    "tm_docs.cli": 5,
}
# Leaves that import nothing of tm_docs, used by every layer to make text safe for output.
LEAVES = {"tm_docs.render.terminal"}
# Rule files are read by load/ and checked against the fact vocabulary of analysis/:
# the rule format lives with the facts it names.
ALLOWED = {
    ("tm_docs.load.rules", "tm_docs.analysis.rules"),
}
FACES = {"tm_docs.config", "tm_docs.plugin", "tm_docs.cli"}


def _layer(module: str) -> int:
    for prefix, layer in sorted(LAYERS.items(), key=lambda item: -len(item[0])):
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return 3


def _imports() -> dict[str, set[str]]:
    import ast

    found: dict[str, set[str]] = {}
    for path in (REPO / "tm_docs").rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        module = ".".join(parts)
        package = module if is_package else module.rsplit(".", 1)[0]
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    target = node.module or ""
                names.add(target)
                names.update(f"{target}.{alias.name}" for alias in node.names)
        found[module] = names
    return found


def test_no_import_runs_upward_and_only_faces_know_mkdocs_and_click() -> None:
    imports = _imports()
    modules = set(imports)
    wrong = []
    for module, names in imports.items():
        if module in FACES:
            continue
        for name in names:
            if name.split(".")[0] in ("mkdocs", "click"):
                wrong.append(f"{module} imports {name}")
            if name in modules and name not in LEAVES and (module, name) not in ALLOWED:
                if _layer(name) > _layer(module):
                    wrong.append(f"{module} (layer {_layer(module)}) imports {name}")
    assert wrong == []


def test_the_leaves_import_nothing_of_tm_docs() -> None:
    imports = _imports()
    for leaf in LEAVES:
        assert not [n for n in imports[leaf] if n.startswith("tm_docs")], leaf
