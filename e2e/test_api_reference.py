"""The API reference page renders from the server alone: no CDN, nothing its CSP blocks."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.server import ServerProcess


def test_the_api_reference_page_loads_only_from_this_server(page: Page, server: ServerProcess):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("/schema")
    expect(page.get_by_text("DataFlow API").first).to_be_visible()
    expect(page.locator("#operations-flows-list_flows")).to_be_visible()
    assert requested and all(url.startswith(server.url) for url in requested), requested
