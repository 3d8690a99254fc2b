"""Signing in and out as a user does: through the editor's sign-in page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.auth import ADMIN_PASSWORD


def sign_in(
    page: Page, name: str = "admin", password: str = ADMIN_PASSWORD, path: str = "/"
) -> None:
    """Open `path`, which shows the sign-in page to nobody signed in, and sign in there."""
    page.goto(path)
    fill_sign_in(page, name, password)
    expect(page.get_by_test_id("current-user").first).to_have_text(name)


def fill_sign_in(page: Page, name: str, password: str) -> None:
    expect(page.get_by_test_id("sign-in-page")).to_be_visible()
    page.get_by_test_id("sign-in-name").fill(name)
    page.get_by_test_id("sign-in-password").fill(password)
    page.get_by_test_id("sign-in-submit").click()


def sign_out(page: Page) -> None:
    page.get_by_test_id("sign-out").first.click()
    expect(page.get_by_test_id("sign-in-page")).to_be_visible()
