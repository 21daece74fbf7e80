"""`mkdocs serve`: editing a model file rebuilds its page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .sites import make_site


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode("utf-8"))


def _wait_for(url: str, text: str, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    last = ""
    while time.monotonic() < deadline:
        try:
            last = _fetch(url)
            if text in last:
                return last
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{text!r} did not appear at {url} within {seconds}s")


def test_editing_a_model_rebuilds_its_page(tmp_path: Path) -> None:
    config = make_site(tmp_path)
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "-f", str(config), "-a", f"127.0.0.1:{port}"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    try:
        url = f"http://127.0.0.1:{port}/threat-models/checkout/"
        _wait_for(url, "Forged JWT with missing audience validation")
        model = tmp_path / "models" / "checkout.yaml"
        text = model.read_text(encoding="utf-8")
        model.write_text(
            text.replace("Forged JWT with missing audience validation", "Renamed while serving"),
            encoding="utf-8",
        )
        page = _wait_for(url, "Renamed while serving")
        assert "Forged JWT with missing audience validation" not in page
    finally:
        server.terminate()
        server.wait(timeout=10)
