"""Browser tests: Debian's Chromium driven by Playwright against a real DataFlow server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from tests.server import ROOT, ServerProcess

CHROMIUM = os.environ.get("DATAFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not (ROOT / "frontend" / "dist" / "index.html").exists():
        pytest.fail("the editor is not built: run `make frontend-build` (make test does)")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install -y chromium` (make test does)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def server(tmp_path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path / "data", env={"DATAFLOW_METRICS_PUSH_SECONDS": "0.5"})
    proc.start()
    yield proc
    proc.stop()


class Api:
    """The public API, for arranging state and checking what the browser did."""

    def __init__(self, url: str):
        self.client = httpx.Client(base_url=url, timeout=30)

    def get(self, path: str):
        response = self.client.get(path)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, json=None):
        response = self.client.post(path, json=json)
        response.raise_for_status()
        return response.json()


@pytest.fixture
def api(server) -> Api:
    return Api(server.url)


@pytest.fixture
def page(browser: Browser, server: ServerProcess) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(15_000)
    page.base_url = server.url  # type: ignore[attr-defined]
    yield page
    context.close()
    # The UI must not log errors; expected API failures are shown in the UI, not the console.
    unexpected = [e for e in errors if "Failed to load resource" not in e]
    assert not unexpected, f"console errors: {unexpected}"
