"""A secret may be referenced only by a field declared secret: anywhere else its value could
end up in a sample, an error message or a file."""

from __future__ import annotations

from dataflow.graph import check_document
from dataflow.processor import default_registry
from dataflow.testing import StaticSecrets


def doc_with(template_config: dict) -> dict:
    return {
        "name": "leak",
        "nodes": [
            {
                "id": "src",
                "type": "generate",
                "config": {"count": 1, "columns": [{"name": "n", "kind": "sequence"}]},
            },
            {"id": "t", "type": "template", "config": template_config},
            {"id": "out", "type": "console", "config": {}},
        ],
        "edges": [
            {"id": "e1", "source": "src", "target": "t"},
            {"id": "e2", "source": "t", "target": "out"},
        ],
    }


def test_a_reference_outside_a_secret_field_is_an_error_naming_the_field():
    registry = default_registry()
    template = registry.get("template")
    assert template is not None
    field = next(iter(template.config_type.__struct_fields__))
    doc = doc_with({"output": "text", field: {"secret": "db-password"}})
    report = check_document(doc, registry, StaticSecrets({"db-password": "hunter2"})).report
    codes = {(e.path, e.code) for e in report.errors}
    assert (f"nodes[1].config.{field}", "secret_not_allowed") in codes
    message = next(e.message for e in report.errors if e.code == "secret_not_allowed")
    assert "not a secret field" in message and "hunter2" not in message


def test_a_reference_nested_in_a_list_or_object_is_refused_too():
    doc = doc_with({"template": "{{ n }}", "output": {"secret": "x"}})
    doc["nodes"][0]["config"]["columns"].append(
        {"name": "c", "kind": "choice", "choices": [{"secret": "x"}]}
    )
    report = check_document(doc, default_registry(), StaticSecrets({"x": "v"})).report
    paths = {e.path for e in report.errors if e.code == "secret_not_allowed"}
    assert "nodes[1].config.output" in paths
    assert "nodes[0].config.columns[1].choices[0]" in paths


def test_secret_fields_still_take_references():
    doc = {
        "name": "ok",
        "nodes": [
            {
                "id": "src",
                "type": "generate",
                "config": {"count": 1, "columns": [{"name": "n", "kind": "sequence"}]},
            },
            {
                "id": "pg",
                "type": "postgres_write",
                "config": {
                    "dsn": "postgresql://app@db/x",
                    "password": {"secret": "pg"},
                    "table": "t",
                },
            },
        ],
        "edges": [{"id": "e1", "source": "src", "target": "pg"}],
    }
    report = check_document(doc, default_registry(), StaticSecrets({"pg": "v"})).report
    assert report.errors == []
