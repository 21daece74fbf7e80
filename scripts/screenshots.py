"""Screenshots of the example site for the user guide and the README.

Builds the example site of this repository (its `mkdocs.yml` and `models/`, with
staleness from this repository's own git history) into a temporary folder,
serves it on 127.0.0.1 and photographs a few pages in headless Chromium:

    .venv/bin/python scripts/screenshots.py

The PNG files land in `docs/images/`.  Look at every one of them before
committing: they are what a newcomer sees first.

Needs the test extras (`pip install -e '.[test]'`, for Playwright) and a
Chromium; set CHROMIUM to its path when it is not `chromium` on the PATH.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "docs" / "images"
WIDTH, HEIGHT = 1400, 860
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# (file name, page of the site, element to scroll to the top or None)
SHOTS = [
    ("stale-banner.png", "threat-models/notifications/", None),
    ("model-page.png", "threat-models/checkout/", None),
    ("backlog.png", "threat-models/backlog/", None),
    ("stale-models.png", "threat-models/stale/", None),
    ("risk-trend.png", "threat-models/checkout/", "#risk-over-time"),
]


def build(target: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(target)]
    subprocess.run(command, cwd=REPO, env=env, check=True)


@contextmanager
def serve(site: Path) -> Iterator[str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def shoot(page: Page, url: str, target: Path, anchor: str | None) -> None:
    page.goto(url, wait_until="networkidle")
    if anchor is not None:
        # Bring the element just below the header, so the shot shows it whole.
        page.eval_on_selector(
            anchor, "e => window.scrollTo(0, e.getBoundingClientRect().top + scrollY - 90)"
        )
        # The header swaps its title on scroll; let that transition end first.
        page.wait_for_timeout(600)
    page.screenshot(path=str(target), full_page=False, animations="disabled")


def main() -> int:
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        build(site)
        with serve(site) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=ARGS)
            page = browser.new_page(
                viewport={"width": WIDTH, "height": HEIGHT}, reduced_motion="reduce"
            )
            for name, path, anchor in SHOTS:
                target = OUT / name
                shoot(page, base + path, target, anchor)
                print(f"{target.relative_to(REPO)}: {target.stat().st_size // 1024} KiB")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
