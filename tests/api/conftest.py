"""An app per test on a fresh SQLite journal, driven through Litestar's test client."""

from __future__ import annotations

import pytest
from litestar.testing import TestClient

from dataflow.api import create_app
from dataflow.settings import Settings
from tests.auth import auth_settings, sign_in


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        data_dir=str(tmp_path / "data"),
        max_body_bytes=64 * 1024,
        metrics_push_seconds=0.2,
        offsets_report_seconds=0.2,
        **auth_settings(),
    )


@pytest.fixture
def client(settings):
    """A test client signed in as admin (through the real sign-in)."""
    with TestClient(app=create_app(settings)) as client:
        sign_in(client)
        yield client


def orders_flow(**overrides) -> dict:
    """generate -> filter -> console: valid with the built-in processors."""
    doc = {
        "id": "orders",
        "name": "Orders",
        "description": "paid orders",
        "nodes": [
            {
                "id": "gen",
                "type": "generate",
                "name": "Orders",
                "config": {
                    "count": 1000,
                    "batch_size": 100,
                    "seed": 7,
                    "columns": [
                        {"name": "order_id", "kind": "sequence"},
                        {"name": "amount", "kind": "float", "min": 0, "max": 500},
                        {"name": "status", "kind": "choice", "choices": ["paid", "open"]},
                    ],
                },
                "position": {"x": 0, "y": 0},
            },
            {
                "id": "paid",
                "type": "filter",
                "name": "Paid",
                "config": {"condition": "status = 'paid'"},
                "position": {"x": 200, "y": 0},
            },
            {
                "id": "log",
                "type": "console",
                "name": "Log",
                "config": {},
                "position": {"x": 400, "y": 0},
            },
        ],
        "edges": [
            {"id": "e1", "source": "gen", "target": "paid"},
            {"id": "e2", "source": "paid", "source_port": "matched", "target": "log"},
        ],
    }
    doc.update(overrides)
    return doc
