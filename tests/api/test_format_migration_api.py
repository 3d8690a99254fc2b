"""Old-format documents through the API: imported, validated and loaded as examples, then
exported in the current format."""

from __future__ import annotations

import json

import msgspec
import pytest
from litestar.testing import TestClient

from dataflow.api import create_app
from dataflow.model import FORMAT_VERSION
from tests.auth import sign_in
from tests.flowfiles.test_migrations import OLD

JSON = {"Content-Type": "application/json"}


def lookup_config(doc: dict) -> dict:
    return next(n for n in doc["nodes"] if n["type"] == "lookup_join")["config"]


def test_import_of_an_old_format_file_stores_and_exports_the_new_format(client):
    response = client.post("/api/v1/flows/import", content=OLD.read_bytes(), headers=JSON)
    assert response.status_code == 201, response.text
    flow_id = response.json()["flow"]["id"]
    exported = client.get(f"/api/v1/flows/{flow_id}/export").json()
    assert exported["format_version"] == FORMAT_VERSION
    assert lookup_config(exported)["reference"] == {
        "kind": "file",
        "path": "tests/flowfiles/format_v1/countries.csv",
        "format": "csv",
    }


def test_validate_and_save_accept_an_old_format_document(client):
    report = client.post("/api/v1/flows/validate", content=OLD.read_bytes(), headers=JSON).json()
    assert report["valid"], report["errors"]
    created = client.post("/api/v1/flows", json={**json.loads(OLD.read_text()), "id": "o"})
    assert created.status_code == 201, created.text
    # A script still sending format 1 on save: migrated too, so nothing changes.
    body = OLD.read_bytes().replace(b'"orders-with-countries"', b'"o"')
    saved = client.put("/api/v1/flows/o", content=body, headers={**JSON, "If-Match": "1"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["changed"] is False


@pytest.fixture
def example_client(settings):
    """A first start with a flowfiles directory holding an old-format example."""
    settings = msgspec.structs.replace(settings, flowfiles_dir=str(OLD.parent))
    with TestClient(app=create_app(settings)) as client:
        sign_in(client)
        yield client


def test_old_format_examples_load_on_first_start(example_client):
    flow = example_client.get("/api/v1/flows/orders-with-countries").json()["flow"]
    assert flow["format_version"] == FORMAT_VERSION
    assert lookup_config(flow)["reference"]["kind"] == "file"
