"""What the page tests share: Debian's chromium driven by Playwright, and a watched page.

Chromium comes from Debian's package (``make browser`` installs it); a test that needs it
fails when it is missing, it never skips. Every page a test opens is watched: console
errors, uncaught exceptions and any request that leaves 127.0.0.1 fail the test, and a
screenshot is written at the end whatever happened (``build/test-screenshots/`` or
``$RNNKIT_SCREENSHOTS``), so that a failure can be seen.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from rnnkit.export.web import serving

# Without the background-networking flags chromium calls home at start, and this machine's
# closed network refuses it (noise in the logs, not the page's requests).
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]
LOCAL = "127.0.0.1"


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is not installed: run `make browser` "
                    "(apt-get install chromium)")
    return path


@contextmanager
def chromium() -> Iterator[object]:
    """A headless chromium from Debian's package, through Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(),
                                             args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Watch:
    """What a page did that it must not: console errors, exceptions, far requests."""

    errors: list[str] = field(default_factory=list)
    far_requests: list[str] = field(default_factory=list)

    def request(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("data", "blob") and parts.hostname != LOCAL:
            self.far_requests.append(url)


def screenshot_folder() -> Path:
    folder = Path(os.environ.get("RNNKIT_SCREENSHOTS", "build/test-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def watched_page(browser, folder: Path, name: str, *, width: int = 1200,
                 height: int = 900, ready: bool = True) -> Iterator[object]:
    """The playground in ``folder`` served on 127.0.0.1 and opened in a new page; yields the
    page once the model is loaded (``ready``). Leaves ``<name>.png`` behind and fails on
    console errors, exceptions or requests beyond 127.0.0.1."""
    watch = Watch()
    with serving(folder) as address:
        page = browser.new_page(viewport={"width": width, "height": height})
        page.on("console", lambda message: message.type == "error"
                and watch.errors.append(f"console: {message.text}"))
        page.on("pageerror", lambda error: watch.errors.append(f"exception: {error}"))
        page.on("request", lambda request: watch.request(request.url))
        try:
            page.goto(address)
            if ready:
                page.wait_for_function("['ready', 'error'].includes(document.body.dataset.state)",
                                       timeout=60_000)
                assert page.get_attribute("body", "data-state") == "ready", \
                    page.text_content("#status")
            yield page
        finally:
            page.screenshot(path=str(screenshot_folder() / f"{name}.png"), full_page=True)
            page.close()
    assert not watch.errors, watch.errors
    assert not watch.far_requests, watch.far_requests
