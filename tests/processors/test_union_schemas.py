"""The catalog schemas of the tagged-union configs, as the editor's form tests read them.

frontend/src/test/unionSchemas.json holds the real catalog entries of the processors whose
configs are tagged unions, so the vitest suite (model/unionSchemas.test.ts) checks that the
form renders them. Regenerate it with `python tests/processors/test_union_schemas.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

from dataflow.processor import default_registry
from dataflow.processor.catalog import config_schema

ROOT = Path(__file__).resolve().parents[2]

FIXTURE = ROOT / "frontend" / "src" / "test" / "unionSchemas.json"
PROCESSORS = ("aggregate", "lookup_join", "validate_schema")


def generated() -> str:
    registry = default_registry()
    entries = {}
    for name in PROCESSORS:
        cls = registry.get(name)
        assert cls is not None, name
        schema, ui = config_schema(cls)
        entries[name] = {"schema": schema, "ui": ui}
    # Not sorted: the order of `properties` is the order of the form.
    return json.dumps(entries, indent=1) + "\n"


def test_the_frontend_fixture_is_the_catalog():
    assert FIXTURE.read_text() == generated(), (
        f"{FIXTURE.relative_to(ROOT)} is stale: python tests/processors/test_union_schemas.py"
    )


if __name__ == "__main__":
    FIXTURE.write_text(generated())
    print(f"written: {FIXTURE.relative_to(ROOT)}")
