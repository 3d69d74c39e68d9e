"""A real headless Chromium (the Debian package) driven by Playwright, for the dashboard tests:
console messages, page errors and failed requests are collected, so a test can say "the page
loaded without a console error"; screenshots go to the artifacts folder and stay after the run.

Playwright is only the driver: it launches /usr/bin/chromium (`executable_path`), never a
browser of its own (`playwright install` cannot download one here)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from tests.services import ServiceError

REPO = Path(__file__).resolve().parents[1]
# the flags that work on this machine; together they keep Chromium off the network
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def artifacts_dir() -> Path:
    """Where screenshots are kept: INGEST_TEST_ARTIFACTS, default ./test-artifacts (git-ignored)."""
    path = Path(os.environ.get("INGEST_TEST_ARTIFACTS") or REPO / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise ServiceError("chromium is not installed: run scripts/install_services.sh (apt-get install -y chromium)")
    return found


@dataclass
class PageLog:
    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, requests that failed."""
        return ([f"console.{kind}: {text}" for kind, text in self.console if kind in ("error", "warning")]
                + [f"pageerror: {e}" for e in self.errors] + [f"request failed: {r}" for r in self.failed_requests])


def open_page(browser, url: str, width: int = 1400, height: int = 1000):
    """A new page at `url`, with its log; the caller closes the page."""
    page = browser.new_page(viewport={"width": width, "height": height})
    log = PageLog()
    page.on("console", lambda m: log.console.append((m.type, m.text)))
    page.on("pageerror", lambda e: log.errors.append(str(e)))
    page.on("requestfailed", lambda r: log.failed_requests.append(r.url))
    page.goto(url, wait_until="load")
    return page, log


def launch(playwright):
    try:
        return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
    except Exception as exc:  # a browser that cannot start fails the test, never skips it
        raise ServiceError(f"headless Chromium did not start: {exc}") from exc
