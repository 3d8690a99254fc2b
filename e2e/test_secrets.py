"""Secret fields: the form picks or creates a named secret; the flow holds only its name."""

from __future__ import annotations

import json

from playwright.sync_api import Page, expect

from e2e.editor import Editor, create_flow

VALUE = "hunter2-never-in-a-flow"


def test_secret_field_creates_and_picks_named_secrets(page: Page, api):
    api.put("/api/v1/secrets/warehouse-password", json={"value": "already-stored"})
    flow_id = create_flow(page, "orders to the warehouse")
    editor = Editor(page)
    source = editor.drop("postgres_query", 150, 150)
    sink = editor.drop("postgres_write", 520, 150)
    editor.connect(source, "out", sink, "in")

    # A new secret, created from the field: name and a password-type value input.
    editor.select(source)
    editor.fill("dsn", "postgresql://app@db.example.com:5432/shop")
    editor.fill("query", "SELECT * FROM orders")
    password = editor.field("password")
    expect(password.locator("option")).to_have_text(["— none —", "warehouse-password"])
    editor.testid("field-password-new-secret").click()
    name = editor.testid("field-password-secret-name")
    expect(name).to_have_value(f"{source}-password")
    value = editor.testid("field-password-secret-value")
    expect(value).to_have_attribute("type", "password")
    value.fill(VALUE)
    editor.testid("field-password-secret-save").click()
    expect(editor.testid("field-password-secret-form")).to_have_count(0)
    expect(password).to_have_value(f"{source}-password")
    expect(editor.testid("toast").filter(has_text="created")).to_be_visible()

    # An existing secret, picked from the list (which now holds both).
    editor.select(sink)
    editor.fill("dsn", "postgresql://app@warehouse:5432/dw")
    editor.fill("table", "orders")
    expect(editor.field("password").locator("option")).to_have_text(
        ["— none —", f"{source}-password", "warehouse-password"]
    )
    editor.pick("password", "warehouse-password")
    expect(editor.testid("field-error-password")).to_have_count(0)

    editor.save()
    nodes = {n["id"]: n for n in api.flow(flow_id)["nodes"]}
    assert nodes[source]["config"]["password"] == {"secret": f"{source}-password"}
    assert nodes[sink]["config"]["password"] == {"secret": "warehouse-password"}
    names = {s["name"] for s in api.get("/api/v1/secrets")}
    assert names == {f"{source}-password", "warehouse-password"}

    # The value went to the secret store only: not in the flow, its history or its export.
    for path in ("", "/versions", "/events", "/export"):
        text = api.client.get(f"/api/v1/flows/{flow_id}{path}").text
        assert VALUE not in text, path
    assert VALUE not in json.dumps(page.evaluate("() => localStorage"))


def test_reference_to_a_missing_secret_is_flagged_on_the_field(page: Page, api):
    flow = {
        "id": "",
        "name": "missing secret",
        "description": "",
        "format_version": 1,
        "nodes": [
            {
                "id": "orders",
                "type": "postgres_query",
                "name": "Orders",
                "config": {
                    "dsn": "postgresql://app@db:5432/shop",
                    "query": "SELECT 1",
                    "password": {"secret": "deleted-meanwhile"},
                },
                "position": {"x": 0, "y": 0},
            }
        ],
        "edges": [],
    }
    flow_id = api.create_flow(flow)
    page.goto(f"/flows/{flow_id}")
    editor = Editor(page)
    editor.select("orders")
    password = editor.field("password")
    expect(password).to_have_value("deleted-meanwhile")
    expect(password.locator("option:checked")).to_have_text("deleted-meanwhile (missing)")
    expect(editor.testid("field-error-password")).to_contain_text("no secret named")
    expect(editor.testid("node-badge-orders")).not_to_have_attribute("data-errors", "0")

    # Creating it under that name (suggested) resolves the reference.
    editor.testid("field-password-new-secret").click()
    expect(editor.testid("field-password-secret-name")).to_have_value("deleted-meanwhile")
    editor.testid("field-password-secret-value").fill("s3cret")
    editor.testid("field-password-secret-save").click()
    expect(editor.testid("field-error-password")).to_have_count(0)
    expect(password.locator("option:checked")).to_have_text("deleted-meanwhile")
