"""The flow design API: CRUD, optimistic concurrency and merges, versions, export/import."""

from __future__ import annotations

import json

from tests.api.conftest import orders_flow


def create(client, doc=None) -> dict:
    response = client.post("/api/v1/flows", json=doc or orders_flow())
    assert response.status_code == 201, response.text
    return response.json()


def save(client, flow: dict, expected: int, **kw):
    return client.put(
        f"/api/v1/flows/{flow['id']}", json={"flow": flow, "expected_version": expected}, **kw
    )


def test_create_get_and_list(client):
    created = create(client)
    assert created["version"] == 1
    got = client.get("/api/v1/flows/orders")
    assert got.status_code == 200
    assert got.headers["etag"] == '"1"'
    assert got.json()["flow"] == created["flow"]
    listed = client.get("/api/v1/flows").json()
    assert [(f["id"], f["version"], f["node_count"], f["state"]) for f in listed] == [
        ("orders", 1, 3, "configured")
    ]


def test_create_without_id_assigns_one(client):
    created = create(client, orders_flow(id=""))
    assert created["flow"]["id"]
    assert client.get(f"/api/v1/flows/{created['flow']['id']}").status_code == 200


def test_create_with_taken_id_is_409(client):
    create(client)
    response = client.post("/api/v1/flows", json=orders_flow())
    assert response.status_code == 409
    assert response.json()["title"] == "Conflict"


def test_save_appends_a_version_and_fine_grained_events(client):
    flow = create(client)["flow"]
    flow["nodes"][1]["config"]["condition"] = "status = 'open'"
    flow["nodes"][0]["position"] = {"x": 10, "y": 20}
    response = save(client, flow, 1)
    assert response.status_code == 200, response.text
    assert (response.json()["version"], response.json()["changed"]) == (2, True)
    types = [e["type"] for e in client.get("/api/v1/flows/orders/events").json()]
    assert types == ["FlowCreated", "NodeConfigChanged", "NodeMoved"] or types == [
        "FlowCreated",
        "NodeMoved",
        "NodeConfigChanged",
    ]


def test_save_with_if_match_header_and_bare_document(client):
    flow = create(client)["flow"]
    flow["name"] = "Renamed"
    response = client.put("/api/v1/flows/orders", json=flow, headers={"If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert response.json()["flow"]["name"] == "Renamed"


def test_save_without_expected_version_is_refused(client):
    flow = create(client)["flow"]
    response = client.put("/api/v1/flows/orders", json=flow)
    assert response.status_code == 428
    assert "If-Match" in response.json()["detail"]


def test_unchanged_save_keeps_the_version(client):
    flow = create(client)["flow"]
    response = save(client, flow, 1)
    assert (response.json()["version"], response.json()["changed"]) == (1, False)


def test_stale_save_touching_other_things_is_merged(client):
    base = create(client)["flow"]
    mine = json.loads(json.dumps(base))
    theirs = json.loads(json.dumps(base))
    theirs["nodes"][1]["config"]["condition"] = "status = 'open'"
    assert save(client, theirs, 1).status_code == 200
    mine["nodes"][2]["name"] = "Console log"
    response = save(client, mine, 1)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["version"], body["merged"]) == (3, True)
    nodes = {n["id"]: n for n in body["flow"]["nodes"]}
    assert nodes["paid"]["config"]["condition"] == "status = 'open'"
    assert nodes["log"]["name"] == "Console log"


def test_real_conflict_is_409_with_both_values_and_changes_nothing(client):
    base = create(client)["flow"]
    mine = json.loads(json.dumps(base))
    theirs = json.loads(json.dumps(base))
    theirs["nodes"][1]["config"]["condition"] = "status = 'open'"
    save(client, theirs, 1)
    mine["nodes"][1]["config"]["condition"] = "amount > 1"
    response = save(client, mine, 1)
    assert response.status_code == 409
    body = response.json()
    assert body["current_version"] == 2
    (conflict,) = body["conflicts"]
    assert conflict["path"] == "nodes[paid].config.condition"
    assert (conflict["base"], conflict["current"], conflict["saved"]) == (
        "status = 'paid'",
        "status = 'open'",
        "amount > 1",
    )
    assert body["errors"][0]["path"] == "nodes[paid].config.condition"
    assert client.get("/api/v1/flows/orders").json()["version"] == 2


def test_invalid_document_is_422_naming_every_path_and_stores_nothing(client):
    doc = orders_flow()
    doc["nodes"][0]["position"] = {"x": "left"}
    doc["edges"][0]["settings"] = {"max_batches": 0}
    response = client.post("/api/v1/flows", json=doc)
    assert response.status_code == 422
    body = response.json()
    assert [e["path"] for e in body["errors"]] == [
        "nodes[0].position.x",
        "edges[0].settings.max_batches",
    ]
    assert client.get("/api/v1/flows").json() == []


def test_unfinished_design_can_be_saved_but_not_imported(client):
    doc = orders_flow(edges=[])
    assert client.post("/api/v1/flows", json=doc).status_code == 201
    response = client.post("/api/v1/flows/import", json=doc)
    assert response.status_code == 422
    assert {e["code"] for e in response.json()["errors"]} == {"input_not_connected"}


def test_versions_diff_and_revert(client):
    flow = create(client)["flow"]
    flow["nodes"][1]["config"]["condition"] = "status = 'open'"
    save(client, flow, 1)
    versions = client.get("/api/v1/flows/orders/versions").json()
    assert [v["version"] for v in versions] == [1, 2]
    assert "paid" in versions[1]["summary"]
    diff = client.get("/api/v1/flows/orders/diff", params={"from": 1, "to": 2}).json()
    (changed,) = diff["nodes_changed"]
    assert changed["id"] == "paid"
    assert changed["config_keys_changed"] == ["condition"]
    assert changed["config_changes"]["condition"] == {
        "old": "status = 'paid'",
        "new": "status = 'open'",
    }
    reverted = client.post("/api/v1/flows/orders/revert", json={"version": 1})
    assert reverted.status_code == 200
    assert reverted.json()["version"] == 3
    assert reverted.json()["flow"]["nodes"][1]["config"]["condition"] == "status = 'paid'"
    old = client.get("/api/v1/flows/orders/versions/2").json()
    assert old["flow"]["nodes"][1]["config"]["condition"] == "status = 'open'"


def test_unknown_version_and_flow_are_404(client):
    create(client)
    assert client.get("/api/v1/flows/orders/versions/9").status_code == 404
    response = client.get("/api/v1/flows/nope")
    assert response.status_code == 404
    assert set(response.json()) >= {"status", "title", "detail"}


def test_delete_is_soft_and_recorded(client):
    create(client)
    assert client.delete("/api/v1/flows/orders").status_code == 204
    assert client.get("/api/v1/flows/orders").status_code == 404
    assert client.get("/api/v1/flows").json() == []


def test_export_is_canonical_and_import_round_trips(client):
    create(client)
    exported = client.get("/api/v1/flows/orders/export")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    text = exported.text
    assert text.endswith("}\n") and text.startswith('{\n  "description"')
    imported = client.post(
        "/api/v1/flows/import",
        content=exported.content,
        headers={"content-type": "application/json"},
    )
    assert imported.status_code == 201
    new_id = imported.json()["flow"]["id"]
    assert new_id != "orders"  # the id was taken: keep both
    again = client.get(f"/api/v1/flows/{new_id}/export").text
    assert json.loads(again) == {**json.loads(text), "id": new_id}


def test_validate_reports_every_error_with_paths_and_stores_nothing(client):
    doc = orders_flow()
    doc["nodes"][1]["config"]["condition"] = "amout > 100"
    doc["nodes"][2]["type"] = "nope"
    body = client.post("/api/v1/flows/validate", json=doc).json()
    assert not body["valid"]
    assert sorted((e["path"], e["code"]) for e in body["errors"]) == [
        ("nodes[1].config.condition", "schema_error"),
        ("nodes[2].type", "unknown_type"),
    ]
    assert client.get("/api/v1/flows").json() == []


def test_stored_flow_validation(client):
    create(client)
    body = client.get("/api/v1/flows/orders/validation").json()
    assert body["valid"] is True
    assert [w["code"] for w in body["warnings"]] == ["output_not_connected"]
    assert [c["name"] for c in body["schemas"]["paid"]["matched"]] == [
        "order_id",
        "amount",
        "status",
    ]


def test_malformed_json_is_400_in_the_error_shape(client):
    response = client.post(
        "/api/v1/flows", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["status"] == 400


def test_body_over_the_limit_is_413(client):
    doc = orders_flow(description="x" * 100_000)
    response = client.post("/api/v1/flows", json=doc)
    assert response.status_code == 413
    assert response.json()["title"] == "Request body too large"


def test_flow_schema_is_generated_from_the_structs(client):
    schema = client.get("/api/v1/schema/flow.json").json()
    flow = schema["$defs"]["Flow"]
    assert set(flow["properties"]) == {
        "id",
        "name",
        "description",
        "format_version",
        "nodes",
        "edges",
        "settings",
    }
    assert schema["$defs"]["EdgeSettings"]["properties"]["max_batches"]["minimum"] == 1


def test_processor_catalog_lists_ports_and_config_schema(client):
    catalog = {p["type"]: p for p in client.get("/api/v1/processors").json()}
    f = catalog["filter"]
    assert (f["category"], f["inputs"], f["outputs"]) == (
        "transform",
        ["in"],
        ["matched", "unmatched"],
    )
    assert f["config_schema"]["required"] == ["condition"]
    assert f["ui_schema"]["condition"]["ui:widget"] == "sql"
    assert catalog["generate"]["category"] == "source"
    assert client.get("/api/v1/processors/nope").status_code == 404


def test_health_reports_the_journal(client):
    body = client.get("/health").json()
    assert (body["status"], body["journal"], body["journal_ok"]) == ("ok", "sqlite", True)


def test_openapi_document_is_published(client):
    spec = client.get("/schema/openapi.json").json()
    assert "/api/v1/flows/{flow_id}" in spec["paths"]


def test_a_processor_whose_schema_breaks_is_left_out_not_the_catalog(settings):
    from typing import Annotated

    import msgspec
    from litestar.testing import TestClient

    from dataflow.api import create_app
    from dataflow.processor import ProcessorConfig, ProcessorSpec, Registry, Sink
    from dataflow_processors.filter import Filter
    from tests.auth import sign_in

    class BrokenConfig(ProcessorConfig, kw_only=True):
        """Not describable: `gt` on a non-numeric type."""

        window: Annotated[float | None, msgspec.Meta(gt=0)] = None

    class Broken(Sink[BrokenConfig]):
        spec = ProcessorSpec(name="broken", category="sink", summary="x", inputs=("in",))

    with TestClient(app=create_app(settings, Registry([Filter, Broken]))) as client:
        sign_in(client)
        response = client.get("/api/v1/processors")
        assert response.status_code == 200
        assert [p["type"] for p in response.json()] == ["filter"]
