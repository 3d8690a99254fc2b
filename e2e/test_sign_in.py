"""Signing in and out, what each role may do in the editor, and the admin page."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from e2e.editor import Editor, open_flow
from e2e.flows import orders_flow
from e2e.session import fill_sign_in, sign_in, sign_out
from tests.auth import ADMIN_PASSWORD
from tests.server import ServerProcess


def test_a_wrong_password_is_refused_then_the_right_one_lands_where_the_user_was(
    open_page: Callable[..., Page], api
):
    flow_id = api.create_flow(orders_flow("where I was"))
    page = open_page(None)
    page.goto(f"/flows/{flow_id}")

    fill_sign_in(page, "admin", "not-the-password")
    expect(page.get_by_test_id("sign-in-error")).to_have_text("wrong user name or password")
    expect(page.get_by_test_id("sign-in-password")).to_have_value("")
    assert [f["user"] for f in api.get("/api/v1/auth/failures")] == ["admin"]

    fill_sign_in(page, "admin", ADMIN_PASSWORD)
    expect(page.get_by_test_id("editor")).to_have_attribute("data-flow-id", flow_id)
    expect(page.get_by_test_id("current-user")).to_have_text("admin")
    expect(page.get_by_test_id("current-role")).to_have_text("admin")
    # The session is a cookie the page cannot read, not something kept in storage.
    assert page.evaluate("() => document.cookie") == ""
    assert page.evaluate("() => localStorage.length + sessionStorage.length") == 0


def test_too_many_attempts_are_refused_with_the_time_to_wait(
    open_page: Callable[..., Page], tmp_path
):
    # Three attempts a minute: the server's own sign-in when it starts, then two here.
    strict = ServerProcess(
        tmp_path / "strict", env={"DATAFLOW_LOGIN_ATTEMPTS_PER_MINUTE": "3"}
    ).start()
    try:
        page = open_page(None)
        page.goto(strict.url)
        for _ in range(2):
            fill_sign_in(page, "admin", "guess")
            expect(page.get_by_test_id("sign-in-error")).to_have_text("wrong user name or password")
        fill_sign_in(page, "admin", ADMIN_PASSWORD)
        error = page.get_by_test_id("sign-in-error")
        expect(error).to_contain_text("too many sign-in attempts")
        expect(error).to_contain_text(re.compile(r"try again in \d+ s"))
        submit = page.get_by_test_id("sign-in-submit")
        expect(submit).to_be_disabled()
        expect(submit).to_have_text(re.compile(r"Try again in \d+ s"))
        expect(page.get_by_test_id("current-user")).to_have_count(0)
    finally:
        strict.stop()


def test_a_viewer_sees_run_and_edit_controls_disabled_with_the_reason(
    open_page: Callable[..., Page], api
):
    flow_id = api.create_flow(orders_flow())
    api.create_user("vera", "viewer-password", "viewer")
    page = open_page("vera", "viewer-password")

    # The list: nothing to create, import or delete; no admin link.
    expect(page.get_by_test_id("current-role")).to_have_text("viewer")
    expect(page.get_by_test_id("admin-link")).to_have_count(0)
    for testid in ("new-flow", "import-flow", f"delete-flow-{flow_id}"):
        control = page.get_by_test_id(testid)
        expect(control).to_be_disabled()
        expect(control).to_have_attribute("title", "needs the editor role (you are viewer)")

    editor = open_flow(page, flow_id)
    start = editor.testid("run-start")
    expect(start).to_be_disabled()
    expect(start).to_have_attribute("title", "needs the operator role (you are viewer)")
    expect(start).to_have_attribute("aria-description", "needs the operator role (you are viewer)")
    save = editor.testid("save-flow")
    expect(save).to_be_disabled()
    expect(save).to_have_attribute("title", "needs the editor role (you are viewer)")
    expect(editor.testid("read-only")).to_be_visible()

    # The canvas and forms are read-only: nothing to drag in, a form to read, not to change.
    expect(editor.testid("palette-item-filter")).to_have_attribute("draggable", "false")
    inspector = editor.select("paid")
    expect(inspector.get_by_test_id("delete-node")).to_be_disabled()
    expect(inspector.get_by_test_id("node-name-input")).not_to_be_editable()
    expect(editor.field("condition")).to_have_attribute("contenteditable", "false")
    page.keyboard.press("Delete")
    expect(editor.testid("node-paid")).to_be_visible()
    # Output schemas come from the saved flow's report (validating a draft needs editor),
    # and live updates come over the WebSocket as for anyone.
    expect(inspector.get_by_test_id("node-schema")).to_be_visible()
    expect(editor.testid("ws-status")).to_have_attribute("data-connected", "true")


def test_an_operator_runs_flows_but_does_not_edit_them(open_page: Callable[..., Page], api):
    flow_id = api.create_flow(orders_flow())
    api.create_user("otto", "operator-password", "operator")
    editor = open_flow(open_page("otto", "operator-password"), flow_id)
    expect(editor.testid("save-flow")).to_have_attribute(
        "title", "needs the editor role (you are operator)"
    )
    editor.testid("run-start").click()
    expect(editor.testid("run-state")).to_have_attribute(
        "data-state", re.compile("running|completed")
    )
    assert api.get(f"/api/v1/flows/{flow_id}/run")["state"] in ("running", "completed")


def test_an_admin_manages_users_and_tokens_on_the_admin_page(
    open_page: Callable[..., Page], page: Page, api, server
):
    page.get_by_test_id("admin-link").click()
    expect(page.get_by_test_id("admin-page")).to_be_visible()
    expect(page.get_by_test_id("user-row-admin")).to_be_visible()

    # A new user, with a role, who can sign in.
    page.get_by_test_id("new-user-name").fill("olga")
    page.get_by_test_id("new-user-password").fill("short")
    page.get_by_test_id("new-user-submit").click()
    expect(page.get_by_test_id("new-user-error")).to_contain_text("at least 8 characters")
    page.get_by_test_id("new-user-password").fill("olga-password")
    page.get_by_test_id("new-user-role").select_option("operator")
    page.get_by_test_id("new-user-submit").click()
    expect(page.get_by_test_id("user-role-olga")).to_have_value("operator")
    page.get_by_test_id("user-role-olga").select_option("editor")
    expect(page.get_by_test_id("toast-title").filter(has_text="olga is now editor")).to_be_visible()
    assert api.get("/api/v1/users/olga")["role"] == "editor"

    # Her password reset by the admin; she signs in with the new one.
    page.get_by_test_id("user-password-olga").click()
    page.get_by_test_id("prompt-input").fill("olga-new-password")
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("toast-title").filter(has_text="Password of olga")).to_be_visible()
    olga = open_page("olga", "olga-new-password")
    expect(olga.get_by_test_id("current-role")).to_have_text("editor")

    # A token for her, shown once with a copy button, that works against the API.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page.get_by_test_id("new-token-name").fill("ci-deploy")
    page.get_by_test_id("new-token-owner").select_option("olga")
    page.get_by_test_id("new-token-role").select_option("viewer")
    page.get_by_test_id("new-token-submit").click()
    value = page.get_by_test_id("token-value").inner_text()
    assert value.startswith("dft_")
    page.get_by_test_id("token-copy").click()
    expect(page.get_by_test_id("token-copy")).to_have_text(re.compile("Copied"))
    assert page.evaluate("() => navigator.clipboard.readText()") == value
    bearer = {"Authorization": f"Bearer {value}"}
    me = httpx.get(f"{server.url}/api/v1/auth/me", headers=bearer)
    assert (me.status_code, me.json()["user"], me.json()["role"]) == (200, "olga", "viewer")
    assert httpx.get(f"{server.url}/api/v1/flows", headers=bearer).status_code == 200
    assert httpx.post(f"{server.url}/api/v1/flows/x/start", headers=bearer).status_code == 403

    # Revoked, it stops working.
    (token_id,) = [t["id"] for t in api.get("/api/v1/tokens") if t["name"] == "ci-deploy"]
    page.get_by_test_id(f"token-revoke-{token_id}").click()
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id(f"token-row-{token_id}")).to_have_count(0)
    expect(page.get_by_test_id("token-issued")).to_have_count(0)
    assert httpx.get(f"{server.url}/api/v1/auth/me", headers=bearer).status_code == 401

    # Deleted (after a confirmation), she is gone.
    page.get_by_test_id("user-delete-olga").click()
    page.get_by_test_id("confirm-cancel").click()
    expect(page.get_by_test_id("user-row-olga")).to_be_visible()
    page.get_by_test_id("user-delete-olga").click()
    page.get_by_test_id("confirm-ok").click()
    expect(page.get_by_test_id("user-row-olga")).to_have_count(0)
    assert api.client.get("/api/v1/users/olga").status_code == 404
    expect(page.get_by_test_id("user-delete-admin")).to_be_disabled()


def test_failed_sign_ins_are_listed_for_admins(open_page: Callable[..., Page], page: Page):
    stranger = open_page(None)
    stranger.goto("/")
    fill_sign_in(stranger, "mallory", "guessing")
    expect(stranger.get_by_test_id("sign-in-error")).to_have_text("wrong user name or password")
    page.goto("/admin")
    row = page.get_by_test_id("failure-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("mallory")
    expect(row).to_contain_text("127.0.0.1")


def test_signing_out_returns_to_the_sign_in_page(page: Page, api):
    flow_id = api.create_flow(orders_flow())
    open_flow(page, flow_id)
    sign_out(page)
    expect(page.get_by_test_id("sign-in-notice")).to_have_text("You signed out.")
    expect(page.get_by_test_id("editor")).to_have_count(0)
    # The session is over on the server too: a reload still asks to sign in.
    page.reload()
    expect(page.get_by_test_id("sign-in-page")).to_be_visible()
    assert page.request.get("/api/v1/flows").status == 401


def test_an_expired_session_asks_to_sign_in_again_and_keeps_the_unsaved_edit(
    open_page: Callable[..., Page], tmp_path
):
    # A server whose sessions last 4 seconds (the page fixture's server keeps its 12 hours).
    short = ServerProcess(tmp_path / "short", env={"DATAFLOW_SESSION_HOURS": str(4 / 3600)})
    short.start()
    try:
        with short.client() as client:
            flow_id = client.post("/api/v1/flows", json=orders_flow()).json()["flow"]["id"]
        page = open_page(None)
        sign_in(page, path=f"{short.url}/flows/{flow_id}")
        editor = Editor(page)
        expect(editor.testid("editor")).to_have_attribute("data-flow-id", flow_id)
        editor.select("paid")
        editor.testid("node-name-input").fill("Paid orders")
        deadline = time.monotonic() + 15
        while page.request.get(f"{short.url}/api/v1/auth/me").status != 401:
            assert time.monotonic() < deadline, "the session did not expire"
            time.sleep(0.5)

        # Saving meets the 401: the sign-in form covers the editor, which keeps the edit,
        # and the save goes through once signed in again.
        editor.testid("save-flow").click()
        expect(page.get_by_test_id("sign-in-page")).to_be_visible()
        expect(page.get_by_test_id("sign-in-name")).to_have_value("admin")
        page.get_by_test_id("sign-in-password").fill(ADMIN_PASSWORD)
        page.get_by_test_id("sign-in-submit").click()
        expect(page.get_by_test_id("sign-in-page")).to_have_count(0)
        expect(editor.testid("flow-version")).to_have_text("v2")
        with short.client() as client:
            saved = client.get(f"/api/v1/flows/{flow_id}").json()["flow"]
        assert {n["id"]: n["name"] for n in saved["nodes"]}["paid"] == "Paid orders"
    finally:
        short.stop()


def test_a_user_who_is_not_admin_makes_and_revokes_their_own_tokens(
    open_page: Callable[..., Page], api, server
):
    api.create_user("eddie", "editor-password", "editor")
    page = open_page("eddie", "editor-password")
    expect(page.get_by_test_id("admin-link")).to_have_count(0)
    page.get_by_test_id("tokens-link").click()
    expect(page.get_by_test_id("tokens-page")).to_be_visible()
    # Only his own tokens, for himself, and none stronger than he is.
    expect(page.get_by_test_id("new-token-owner")).to_have_count(0)
    roles = page.get_by_test_id("new-token-role").locator("option").all_inner_texts()
    assert roles == ["the owner's", "viewer", "operator", "editor"]

    page.get_by_test_id("new-token-name").fill("laptop")
    page.get_by_test_id("new-token-submit").click()
    value = page.get_by_test_id("token-value").inner_text()
    bearer = {"Authorization": f"Bearer {value}"}
    me = httpx.get(f"{server.url}/api/v1/auth/me", headers=bearer).json()
    assert (me["user"], me["role"]) == ("eddie", "editor")
    rows = page.locator("[data-testid^='token-row-']")
    expect(rows).to_have_count(1)  # the admin's tokens are not his to see
    expect(rows).to_contain_text("laptop")
    rows.get_by_role("button", name="Revoke").click()
    page.get_by_test_id("confirm-ok").click()
    expect(rows).to_have_count(0)
    assert httpx.get(f"{server.url}/api/v1/auth/me", headers=bearer).status_code == 401


def test_an_editor_picks_secrets_by_name_but_only_an_admin_stores_one(
    open_page: Callable[..., Page], api
):
    api.put("/api/v1/secrets/shop-password", json={"value": "stored-by-admin"})
    flow_id = api.create_flow(
        {
            "id": "",
            "name": "secret picking",
            "description": "",
            "format_version": 1,
            "nodes": [
                {
                    "id": "orders",
                    "type": "postgres_query",
                    "name": "Orders",
                    "config": {"dsn": "postgresql://app@db:5432/shop", "query": "SELECT 1"},
                    "position": {"x": 0, "y": 0},
                }
            ],
            "edges": [],
        }
    )
    api.create_user("erin", "editor-password", "editor")
    editor = open_flow(open_page("erin", "editor-password"), flow_id)
    editor.select("orders")
    new = editor.testid("field-password-new-secret")
    expect(new).to_be_disabled()
    expect(new).to_have_attribute("title", "needs the admin role (you are editor)")
    editor.pick("password", "shop-password")
    editor.save()
    config = api.flow(flow_id)["nodes"][0]["config"]
    assert config["password"] == {"secret": "shop-password"}


def test_single_sign_on_through_an_identity_provider(open_page: Callable[..., Page], tmp_path):
    """The sign-in page's button, the provider, and back, signed in with the provider's role."""
    from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, start_provider

    with start_provider() as provider:
        provider.claims = {"sub": "u-9", "preferred_username": "dana", "dataflow_roles": "editor"}
        sso = ServerProcess(
            tmp_path / "sso",
            env={
                "DATAFLOW_OIDC_ISSUER": provider.url,
                "DATAFLOW_OIDC_CLIENT_ID": CLIENT_ID,
                "DATAFLOW_OIDC_CLIENT_SECRET": CLIENT_SECRET,
                "DATAFLOW_OIDC_DISPLAY_NAME": "Example SSO",
            },
        ).start()
        try:
            page = open_page(None)
            page.goto(sso.url)
            button = page.get_by_test_id("sign-in-sso")
            expect(button).to_have_text("Sign in with Example SSO")
            button.click()
            expect(page.get_by_test_id("current-user")).to_have_text("dana")
            expect(page.get_by_test_id("current-role")).to_have_text("editor")
            assert page.url.startswith(sso.url)
        finally:
            sso.stop()
