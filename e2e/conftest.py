"""Browser tests: Debian's Chromium driven by Playwright against a real DataFlow server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from e2e.session import sign_in
from tests.auth import ADMIN_PASSWORD
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
VIEWPORT = {"width": 1440, "height": 900}


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


@pytest.fixture
def out_dir(tmp_path) -> Path:
    """Where sinks drawn in a test write (inside the test's temporary directory)."""
    path = tmp_path / "out"
    path.mkdir()
    return path


class Api:
    """The public API, signed in as admin, for arranging state and checking what the browser did."""

    def __init__(self, url: str, headers: dict[str, str]):
        self.client = httpx.Client(base_url=url, headers=headers, timeout=30)

    def get(self, path: str):
        response = self.client.get(path)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, json=None):
        response = self.client.post(path, json=json)
        response.raise_for_status()
        return response.json()

    def put(self, path: str, json=None):
        response = self.client.put(path, json=json)
        response.raise_for_status()
        return response.json() if response.content else None

    def flow(self, flow_id: str) -> dict:
        """The current document of a flow (without the envelope)."""
        return self.get(f"/api/v1/flows/{flow_id}")["flow"]

    def create_flow(self, document: dict) -> str:
        return self.post("/api/v1/flows", json=document)["flow"]["id"]

    def create_user(self, name: str, password: str, role: str) -> dict:
        return self.post("/api/v1/users", json={"name": name, "password": password, "role": role})


@pytest.fixture
def api(server) -> Iterator[Api]:
    client = Api(server.url, server.headers)
    yield client
    client.client.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.e2e_failed = report.failed
    return report


@pytest.fixture
def open_page(
    request, browser: Browser, server: ServerProcess, tmp_path: Path
) -> Iterator[Callable[..., Page]]:
    """Opens pages, each in its own browser context (as two users would be), signed in
    through the sign-in page: as admin, or `open_page(user, password)`, or nobody with
    `open_page(None)`.

    Every page fails the test when the UI logs an error to the console: expected API
    failures are shown in the UI, not logged. "Failed to load resource" is the browser's
    own line for any non-2xx response (a 409 the test provokes, say) and is ignored.
    """
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def open_one(user: str | None = "admin", password: str = ADMIN_PASSWORD) -> Page:
        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, base_url=server.url)
        contexts.append(context)
        page = context.new_page()

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                errors.append(message.text)

        page.on("console", on_console)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.set_default_timeout(15_000)
        if user is not None:
            sign_in(page, user, password)
        return page

    yield open_one
    if getattr(request.node, "e2e_failed", False):
        # What the browser showed when the test failed, next to the server's log.
        for i, context in enumerate(contexts):
            for j, page in enumerate(context.pages):
                path = tmp_path / f"failure-{i}-{j}.png"
                page.screenshot(path=path)
                print(f"screenshot of the failed test: {path}")
    for context in contexts:
        context.close()
    unexpected = [e for e in errors if "Failed to load resource" not in e]
    assert not unexpected, f"console errors: {unexpected}"


@pytest.fixture
def page(open_page: Callable[..., Page]) -> Page:
    """A page signed in as admin (through the sign-in page, as a user would)."""
    return open_page()
