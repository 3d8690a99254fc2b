"""python: user code per batch, only when the server allows it."""

import pytest

from dataflow.processor import SchemaError
from dataflow_processors.python import Python

CODE = """
def transform(table):
    return table.append_column("double", pc.multiply(table["n"], 2))
"""


async def test_runs_the_users_function(h):
    out = await h.transform_rows(Python, {"code": CODE}, [{"n": 1}, {"n": 4}], allow_python=True)
    assert out == {"out": [{"n": 1, "double": 2}, {"n": 4, "double": 8}]}


async def test_disabled_unless_the_server_allows_it(h):
    with pytest.raises(PermissionError, match="a server started with --allow-python"):
        await h.transform_rows(Python, {"code": CODE}, [{"n": 1}])
    # The processor itself validates; a server's validation reports its closed gates
    # (tests/security/test_python_gates.py).
    assert h.make(Python, {"code": CODE}).output_schema({}) is None


async def test_wrong_return_type_is_a_clear_error(h):
    code = "def transform(table):\n    return table.to_pylist()\n"
    with pytest.raises(TypeError, match=r"returned list, not a pyarrow\.Table"):
        await h.transform_rows(Python, {"code": code}, [{"n": 1}], allow_python=True)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("def transform(table):\n    return table +\n", "line 2: invalid syntax"),
        ("def other(table):\n    return table\n", "must define `def transform(table)`"),
    ],
)
def test_code_errors_name_the_field_and_line(h, code, message):
    with pytest.raises(SchemaError) as err:
        h.make(Python, {"code": code}).output_schema({})
    assert err.value.field == "code"
    assert message in err.value.message
