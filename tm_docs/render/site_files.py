"""Writing the files of a site build to a folder (what `tm-docs generate` does)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .pages import GeneratedFile

MANIFEST = ".tm-docs-generated"  # what the last run wrote, so the next removes what is gone


def write_site(files: Sequence[GeneratedFile], section_root: str, outdir: Path) -> int:
    """Write every file of the build under `outdir`; returns how many.

    Each file is written atomically.  Files that an earlier run wrote and this
    one does not (a model deleted since) are removed; nothing else is touched.
    """
    section = outdir / section_root
    section.mkdir(parents=True, exist_ok=True)
    manifest = section / MANIFEST
    before = set(manifest.read_text(encoding="utf-8").splitlines()) if manifest.is_file() else set()
    now = {file.path for file in files}
    for file in files:
        target = outdir / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        data = file.content.encode("utf-8") if isinstance(file.content, str) else file.content
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tm-docs-", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, target)
    for old in sorted(before - now):
        stale = outdir / old
        # Only what the manifest names, inside the section, as a regular file.
        if old.startswith(section_root + "/") and ".." not in old.split("/"):
            if stale.is_file() and not stale.is_symlink():
                stale.unlink()
    manifest.write_text("".join(f"{p}\n" for p in sorted(now)), encoding="utf-8")
    return len(files)
