"""template: sandboxed Jinja per row, failures routed row by row."""

import pyarrow as pa
import pytest

from dataflow.processor import SchemaError
from dataflow_processors.template import Template

SCHEMA = pa.schema([("name", pa.string()), ("n", pa.int64())])


async def test_renders_each_row_into_the_output_column(h):
    config = {"template": "Hi {{ name }}{% if n > 1 %} x{{ n }}{% endif %}", "output_column": "msg"}
    out = await h.transform_rows(
        Template, config, [{"name": "ann", "n": 1}, {"name": None, "n": 3}]
    )
    assert [r["msg"] for r in out["out"]] == ["Hi ann", "Hi  x3"]  # null renders as ""
    assert out["out"][0] == {"name": "ann", "n": 1, "msg": "Hi ann"}


async def test_row_variable_and_replacing_a_column(h):
    rows = [{"order id": 7, "text": "old"}]
    config = {"template": "#{{ row['order id'] }}"}
    assert await h.transform_rows(Template, config, rows) == {
        "out": [{"order id": 7, "text": "#7"}]
    }


async def test_failing_rows_go_to_failure_when_routed(h):
    config = {"template": "{{ 10 // n }}", "on_error": "route"}
    out = await h.transform_rows(Template, config, [{"n": 2}, {"n": 0}, {"n": 5}])
    assert out["out"] == [{"n": 2, "text": "5"}, {"n": 5, "text": "2"}]
    assert out["failure"] == [
        {"n": 0, "error": "ZeroDivisionError: integer division or modulo by zero"}
    ]


async def test_failing_row_raises_otherwise(h):
    with pytest.raises(ValueError, match="row 1: ZeroDivisionError"):
        await h.transform_rows(Template, {"template": "{{ 10 // n }}"}, [{"n": 2}, {"n": 0}])


async def test_sandbox_blocks_python_internals(h):
    config = {"template": "{{ name.__class__.__mro__ }}", "on_error": "route"}
    out = await h.transform_rows(Template, config, [{"name": "x"}])
    assert (
        "SecurityError" in out["failure"][0]["error"] or "Undefined" in out["failure"][0]["error"]
    )


def test_output_schema_and_design_time_errors(h):
    ok = h.make(Template, {"template": "{{ name }} {{ n | string }} {{ range(3) | list }}"})
    assert ok.output_schema({"in": SCHEMA}) == {"out": SCHEMA.append(pa.field("text", pa.string()))}
    with pytest.raises(SchemaError) as err:
        h.make(Template, {"template": "line one\n{% if name %}unclosed"}).output_schema({})
    assert err.value.field == "template"
    assert err.value.message.startswith("line 2:")
    with pytest.raises(SchemaError) as err:
        h.make(Template, {"template": "{{ nmae }}"}).output_schema({"in": SCHEMA})
    assert err.value.field == "template"
    assert "nmae: no such column (columns: name, n)" in err.value.message
