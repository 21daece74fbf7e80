"""`mkdocs serve`: editing a model file rebuilds its page."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
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


@dataclass
class Server:
    """A real `mkdocs serve` in a child process, its log read as it is written."""

    process: subprocess.Popen[str]
    port: int
    log: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def stop(self, *, interrupt: bool = False) -> None:
        """Stop the server: SIGINT (as Ctrl+C, exit handlers run) or SIGTERM."""
        if interrupt:
            self.process.send_signal(signal.SIGINT)
        else:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(timeout=10)
        if self.reader is not None:
            self.reader.join(timeout=10)


def start_serve(root: Path, *options: str) -> Server:
    """`mkdocs serve OPTIONS` in `root` on a free port; stop it with `Server.stop`."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", *options, "-a", f"127.0.0.1:{port}"],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    server = Server(process, port)
    assert process.stderr is not None
    lines = process.stderr
    server.reader = threading.Thread(target=lambda: server.log.extend(iter(lines.readline, "")))
    server.reader.start()
    return server


def test_editing_a_model_rebuilds_its_page(tmp_path: Path) -> None:
    config = make_site(tmp_path)
    server = start_serve(tmp_path, "-f", str(config))
    try:
        url = server.url("threat-models/checkout/")
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
        server.stop()


def test_a_broken_model_shows_an_error_page_and_fixing_it_brings_the_site_back(
    tmp_path: Path,
) -> None:
    config = make_site(tmp_path)
    server = start_serve(tmp_path, "-f", str(config))
    try:
        overview = server.url("threat-models/")
        _wait_for(overview, "Checkout")
        model = tmp_path / "models" / "checkout.yaml"
        text = model.read_text(encoding="utf-8")
        model.write_text(text.replace("kind: process", "kind: <b>proces</b>", 1), encoding="utf-8")
        page = _wait_for(overview, "The threat models have errors")
        assert "models/checkout.yaml:" in page and "is not one of the allowed values" in page
        assert "<b>proces</b>" not in page  # the problem's text is escaped
        _wait_for(server.url(""), "Home")  # the rest of the site still answers
        model.write_text(text, encoding="utf-8")
        _wait_for(overview, "Checkout")
        assert "have errors" not in _fetch(overview)
    finally:
        server.stop()


def test_a_new_commit_refreshes_staleness_while_serving(tmp_path: Path) -> None:
    from .gitrepo import GitRepo

    config = make_site(tmp_path)
    repo = GitRepo.__new__(GitRepo)
    repo.root = tmp_path
    server = start_serve(tmp_path, "-f", str(config))
    try:
        page = server.url("threat-models/stale/")
        _wait_for(page, "No model is stale")
        repo.commit(
            "Notifications: a new provider",
            "2026-11-20T10:00:00Z",
            {"example/services/notifications/extra.js": "// example\n"},
        )
        _wait_for(page, "Notifications: a new provider")
    finally:
        server.stop()
