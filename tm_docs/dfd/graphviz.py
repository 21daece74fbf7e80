"""Running Graphviz's `dot`: finding it, knowing which one it is, calling it safely."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from functools import cache

INSTALL_HINT = (
    "install Graphviz: 'sudo apt-get install graphviz' on Debian or Ubuntu "
    "(or 'sh scripts/system-packages.sh graphviz' in a tm-docs checkout), "
    "'brew install graphviz' on macOS, 'choco install graphviz' on Windows"
)
TIMEOUT_SECONDS = 120


class GraphvizError(RuntimeError):
    """Graphviz is missing or failed; the message says what to do."""


@cache
def dot_path() -> str:
    found = shutil.which("dot")
    if found is None:
        raise GraphvizError(f"Graphviz's 'dot' program was not found on PATH; {INSTALL_HINT}")
    return found


def dot_identity() -> str:
    """A fingerprint of the `dot` executable that changes when Graphviz is upgraded.

    Part of the diagram cache key.  It is read from the file system (resolved
    path, size, modification time), so checking it costs no Graphviz run and a
    warm rebuild stays free of Graphviz calls.
    """
    real = os.path.realpath(dot_path())
    stat = os.stat(real)
    return hashlib.sha256(f"{real}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()


def run_dot(source: str, output_format: str) -> bytes:
    """Lay out DOT source with `dot` and return the output; nothing touches the disk."""
    try:
        proc = subprocess.run(
            [dot_path(), f"-T{output_format}"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GraphvizError(
            f"Graphviz took longer than {TIMEOUT_SECONDS} s to lay out a diagram"
        ) from None
    except OSError as exc:
        raise GraphvizError(f"Graphviz's 'dot' could not be run ({exc}); {INSTALL_HINT}") from None
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GraphvizError(f"Graphviz failed: {detail[-1] if detail else 'no message'}")
    return proc.stdout
